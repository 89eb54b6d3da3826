/** Migration 12 (PostgreSQL): an agent event's webhook deliveries are written by the delivery process, from a queue the event's trigger appends to (issue 15, BENCHMARKS F12). */
import type { Migration } from '../../sqlite/migrations/migration.js';

/*
 * As SQLite's migration 12 (see there for why): the trigger on agent_events only queues the
 * event's id, and whoever claims deliveries first (or reads the delivery log, or changes a
 * subscription) turns queued events into deliveries and takes them off the queue in one
 * statement, webhook_collect_agent_events below: nothing is lost in between, nothing written twice.
 *
 * Here the trigger is per statement, with the inserted rows as a transition table: the daemon
 * writes a group of agents' reports in one INSERT (postgres/event-batch.ts), and the group checks
 * for a subscription once and appends its outcomes to the queue in one INSERT. Until now each
 * report built its payload and inserted a delivery per subscription, inside the report's
 * transaction — the cost that held PostgreSQL below 1,000 reports a second with a `*`
 * subscription (BENCHMARKS F12, scenario 12b).
 *
 * Several replicas collect at once: each locks the queue rows it takes with FOR UPDATE SKIP LOCKED,
 * so two collections take different events and neither waits (`wait` false: claims). A read of the
 * delivery log passes `wait` true: it waits for a collection in progress to commit, so what it
 * reads next includes every event queued before it began. The (subscription_id, event_id)
 * uniqueness stays the last word: ON CONFLICT DO NOTHING.
 *
 * A delivery is dated by its event, as on SQLite: the payload's timestamp, created_at, the time
 * in its id and next_retry_at (so a claim takes it in the order events happened); a subscription gets the events
 * that happened since it was created (s.created_at <= the event's), and one disabled or deleted
 * after an event gets it if collected before (subscription changes collect first, in their own
 * transaction).
 */
const SQL = `
CREATE TABLE webhook_event_queue (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agent_event_id UUID NOT NULL
);

DROP TRIGGER webhook_agent_event ON agent_events;
DROP FUNCTION webhook_agent_event();

CREATE FUNCTION webhook_queue_agent_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled) THEN
    INSERT INTO webhook_event_queue (agent_event_id)
      SELECT id FROM inserted_events WHERE status IN ('SUCCESS', 'FAILURE') ORDER BY seq;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_agent_event AFTER INSERT ON agent_events REFERENCING NEW TABLE AS inserted_events
  FOR EACH STATEMENT EXECUTE FUNCTION webhook_queue_agent_events();

-- Does a subscription want event ev with data? Its types (exact, '*', 'prefix.*') and brokkr's filters, as webhook_enqueue.
CREATE FUNCTION webhook_wants(event_types JSONB, filters JSONB, ev TEXT, data JSONB) RETURNS BOOLEAN LANGUAGE sql IMMUTABLE AS $$
  SELECT EXISTS (SELECT 1 FROM jsonb_array_elements_text(event_types) p(v)
      WHERE p.v = '*' OR p.v = ev OR (right(p.v, 2) = '.*' AND left(ev, length(p.v) - 1) = left(p.v, length(p.v) - 1)))
    AND (filters IS NULL OR (
      (filters->>'agent_id' IS NULL OR lower(filters->>'agent_id') = lower(data->>'agent_id'))
      AND (filters->>'stack_id' IS NULL OR lower(filters->>'stack_id') = lower(data->>'stack_id'))))
$$;

-- Migration 11's time-ordered UUID (version 7) for time t rather than the clock's: a delivery's id carries its event's time.
CREATE FUNCTION webhook_ordered_uuid_at(t TIMESTAMPTZ) RETURNS UUID LANGUAGE sql VOLATILE AS $$
  SELECT encode(set_bit(set_bit(
    overlay(uuid_send(gen_random_uuid()) PLACING substring(int8send(floor(extract(epoch FROM t) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
    52, 1), 53, 1), 'hex')::uuid
$$;

-- Up to batch queued events made deliveries and taken off the queue, oldest first, in one statement; how many it took
-- (0: none left to take). Only one of the two locking reads runs: the other's WHERE is false before it reads a row.
CREATE FUNCTION webhook_collect_agent_events(batch INTEGER, wait BOOLEAN) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
  taken INTEGER;
BEGIN
  WITH picked AS (
    SELECT seq FROM (SELECT seq FROM webhook_event_queue WHERE NOT wait ORDER BY seq LIMIT batch FOR UPDATE SKIP LOCKED) skipping
    UNION ALL
    SELECT seq FROM (SELECT seq FROM webhook_event_queue WHERE wait ORDER BY seq LIMIT batch FOR UPDATE) waiting),
  q AS (DELETE FROM webhook_event_queue WHERE seq IN (SELECT seq FROM picked) RETURNING seq, agent_event_id),
  e AS (
    SELECT q.seq, CASE ev.status WHEN 'SUCCESS' THEN 'deployment.applied' ELSE 'deployment.failed' END AS t, ev.id::text AS eid, ev.created_at AS at,
      jsonb_build_object('agent_event_id', ev.id, 'agent_id', ev.agent_id, 'agent_name', a.name, 'cluster_name', a.cluster_name,
        'deployment_object_id', ev.deployment_object_id, 'stack_id', o.stack_id, 'stack_name', st.name, 'sequence_id', o.sequence_id,
        'event_type', ev.event_type, 'status', ev.status, 'message', ev.message, 'created_at', webhook_ts(ev.created_at)) AS data
    FROM q JOIN agent_events ev ON ev.id = q.agent_event_id
      JOIN agents a ON a.id = ev.agent_id JOIN deployment_objects o ON o.id = ev.deployment_object_id LEFT JOIN stacks st ON st.id = o.stack_id),
  written AS (
    INSERT INTO webhook_deliveries (id, subscription_id, event_type, event_id, payload, created_at, next_retry_at)
    SELECT webhook_ordered_uuid_at(e.at), s.id, e.t, e.eid, jsonb_build_object('id', e.eid, 'event_type', e.t, 'timestamp', webhook_ts(e.at), 'data', e.data)::text, e.at, e.at
    FROM e JOIN webhook_subscriptions s ON s.enabled AND s.created_at <= e.at AND webhook_wants(s.event_types, s.filters, e.t, e.data)
    ORDER BY e.seq, s.id
    ON CONFLICT (subscription_id, event_id) DO NOTHING)
  SELECT count(*) INTO taken FROM q;
  RETURN taken;
END $$;
`;

export const agentEventQueue: Migration = { version: 12, name: 'agent-event-queue', sql: SQL };
