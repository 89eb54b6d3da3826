/** Migration 12: an agent event's webhook deliveries are written by the delivery process, from a queue the event's trigger appends to (issue 15, BENCHMARKS F12). */
import type { Migration } from './migration.js';

/*
 * Until now the trigger on agent_events wrote one delivery row per subscription in the event's own
 * transaction, on the API's thread: a row of ~600 bytes and four B-trees (the table, its primary
 * key, the (subscription_id, event_id) uniqueness, the due index), 75–80 µs per event in a
 * microbenchmark and 60–110 µs at 1,000 events/s — the one cost a `*` subscription still added to
 * agents' reports and so to every other request on that thread. Now the trigger appends the event's id to webhook_event_queue (one
 * row at the end of one B-tree: the cost of an event without any subscription, within a few µs),
 * and whoever claims deliveries first turns the queued events into deliveries and deletes them from
 * the queue, in one transaction (sqlite/webhooks.ts, collectAgentEvents): nothing is lost in
 * between, nothing written twice. Deliveries are still in the database before anything is sent.
 *
 * The queue is read in seq order and emptied as it is read, so a plain rowid (no AUTOINCREMENT)
 * is enough. No foreign key: an event removed before it is collected (only a hard delete of its
 * agent can do that) has nothing left to report, and the collection's join skips it.
 *
 * Only webhook_agent_event changes; the other webhook triggers keep migration 11's text. A later
 * migration that re-creates them all with migration 10's webhookTriggersSql must re-create this one after.
 */
const SQL = `
CREATE TABLE webhook_event_queue (
  seq INTEGER PRIMARY KEY,
  agent_event_id TEXT NOT NULL
);

DROP TRIGGER webhook_agent_event;
CREATE TRIGGER webhook_agent_event AFTER INSERT ON agent_events FOR EACH ROW
WHEN NEW.status IN ('SUCCESS', 'FAILURE') AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled = 1)
BEGIN
  INSERT INTO webhook_event_queue (agent_event_id) VALUES (NEW.id);
END;`;

export const agentEventQueue: Migration = { version: 12, name: 'agent-event-queue', sql: SQL };
