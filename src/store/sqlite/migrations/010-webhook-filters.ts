/** Migration 10: outbound webhooks get brokkr's payload filters, and every event a UUID as its id (SPEC §11, issue 15). */
import { NOW_SQL, UUID_SQL } from '../sql-fragments.js';
import type { Migration } from './migration.js';

/*
 * Payload filters are brokkr's `filters` column: a JSON object {agent_id?, stack_id?}, NULL for
 * none. They are evaluated where deliveries are written — in the triggers — with brokkr's rules:
 * every set field must equal the same field of the event's `data`; an event without that field
 * (or with it null) does not match.
 *
 * Event ids: brokkr's event_id is a UUID. Migration 9 used readable keys for the events that are
 * not an agent event ('stack.invalid:<generator>:<path>:<sha>', 'rollout.halted:<stack>:<object>',
 * 'agent.offline:<agent>:<heartbeat>'), whose stability is what makes a change noticed twice one
 * delivery. SQLite has no hash function (and triggers must not call functions registered from
 * Node), so the key is kept and mapped to a random UUID the first time it is seen:
 * webhook_event_ids. PostgreSQL hashes the key instead (its migration 10). The existing rows are
 * converted, their payload's `id` with them.
 *
 * The webhook triggers of migration 9 are dropped and created again with the new enqueue (a
 * trigger's body cannot be altered in SQLite); their names, events and conditions are unchanged.
 */

/** Does subscription `s` want event type `t` (exact, `*`, or a `prefix.*` pattern)? As in migration 9. */
export const MATCHES = (t: string) =>
  `EXISTS (SELECT 1 FROM json_each(s.event_types) p WHERE p.value = '*' OR p.value = ${t}
     OR (substr(p.value, -2) = '.*' AND substr(${t}, 1, length(p.value) - 1) = substr(p.value, 1, length(p.value) - 1)))`;

/** Do the payload filters of `s` admit an event with JSON `data` (brokkr's WebhookFilters::matches)? */
export const FILTERS_ADMIT = (data: string) =>
  `(s.filters IS NULL OR (
     (json_extract(s.filters, '$.agent_id') IS NULL OR lower(json_extract(s.filters, '$.agent_id')) = lower(json_extract(${data}, '$.agent_id')))
     AND (json_extract(s.filters, '$.stack_id') IS NULL OR lower(json_extract(s.filters, '$.stack_id')) = lower(json_extract(${data}, '$.stack_id')))))`;

/**
 * One delivery per enabled subscription that wants the event and whose filters admit it.
 * `eventId` is an SQL expression giving the event's UUID (see keyedEventId); `data` one giving a
 * JSON object. The body is brokkr's envelope {id, event_type, timestamp, data}.
 */
export function enqueueSql(type: string, eventId: string, data: string, deliveryId = UUID_SQL): string {
  return `INSERT OR IGNORE INTO webhook_deliveries (id, subscription_id, event_type, event_id, payload)
  SELECT ${deliveryId}, s.id, e.t, e.eid, json_object('id', e.eid, 'event_type', e.t, 'timestamp', ${NOW_SQL}, 'data', json(e.data))
  FROM webhook_subscriptions s, (SELECT ${type} AS t, ${eventId} AS eid, ${data} AS data) e
  WHERE s.enabled = 1 AND json_valid(s.event_types) AND ${MATCHES('e.t')} AND ${FILTERS_ADMIT('e.data')}`;
}

/** Give the event key `key` (an SQL expression) its UUID, once: run before enqueueSql(…, keyedEventId(key), …). */
export const rememberEventSql = (key: string) => `INSERT OR IGNORE INTO webhook_event_ids (event_key, event_id) VALUES (${key}, ${UUID_SQL})`;

/** The UUID rememberEventSql gave `key`. */
export const keyedEventId = (key: string) => `(SELECT event_id FROM webhook_event_ids WHERE event_key = ${key})`;

/** The webhook event type of agent event row `ev` (an SQL alias: NEW in a trigger): SUCCESS applied, FAILURE failed. */
export const agentEventTypeSql = (ev: string) => `CASE ${ev}.status WHEN 'SUCCESS' THEN 'deployment.applied' ELSE 'deployment.failed' END`;

/** The `data` of agent event row `ev`'s webhook event (brokkr's fields, plus names): a JSON object, NULL without its agent or object. */
export const agentEventDataSql = (ev: string) => `(SELECT json_object('agent_event_id', ${ev}.id, 'agent_id', ${ev}.agent_id, 'agent_name', a.name, 'cluster_name', a.cluster_name,
        'deployment_object_id', ${ev}.deployment_object_id, 'stack_id', o.stack_id, 'stack_name', st.name, 'sequence_id', o.sequence_id,
        'event_type', ${ev}.event_type, 'status', ${ev}.status, 'message', ${ev}.message, 'created_at', ${ev}.created_at)
      FROM agents a, deployment_objects o LEFT JOIN stacks st ON st.id = o.stack_id
      WHERE a.id = ${ev}.agent_id AND o.id = ${ev}.deployment_object_id)`;

const ANY_SUBSCRIPTION = 'EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled = 1)';

/** An enqueue for a keyed event: the key's UUID first, then the deliveries. */
const keyed = (type: string, key: string, data: string, deliveryId: string) => `${rememberEventSql(key)};
  ${enqueueSql(type, keyedEventId(key), data, deliveryId)}`;

const STACK_INVALID_KEY = "'stack.invalid:' || NEW.generator_id || ':' || NEW.stack_path || ':' || NEW.commit_sha";
const SYNC_FAILED_DATA = `(SELECT json_object('generator_id', NEW.generator_id, 'repository', g.name, 'branch', NEW.branch, 'cursor_commit', NEW.cursor_commit, 'message', NEW.last_error)
      FROM (SELECT NULL) LEFT JOIN generators g ON g.id = NEW.generator_id)`;

/** Every trigger webhookTriggersSql creates (migration 9's, by the same names). */
export const DROP_WEBHOOK_TRIGGERS_SQL = `DROP TRIGGER webhook_agent_event;
DROP TRIGGER webhook_stack_invalid;
DROP TRIGGER webhook_sync_failed;
DROP TRIGGER webhook_sync_failed_first;
DROP TRIGGER webhook_rollout_halted_insert;
DROP TRIGGER webhook_rollout_completed_insert;
DROP TRIGGER webhook_rollout_halted_update;
DROP TRIGGER webhook_rollout_completed_update;`;

const SQL = `
ALTER TABLE webhook_subscriptions ADD COLUMN filters TEXT CHECK (filters IS NULL OR (json_valid(filters) AND json_type(filters) = 'object'));

-- The UUID of each keyed event (see above); rows older than the delivery log's retention are pruned with it.
CREATE TABLE webhook_event_ids (
  event_key TEXT PRIMARY KEY NOT NULL,
  event_id TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (${NOW_SQL})
);

-- Existing deliveries: every key (they contain ':'; agent event ids are UUIDs already) becomes its UUID.
INSERT OR IGNORE INTO webhook_event_ids (event_key, event_id)
  SELECT DISTINCT event_id, ${UUID_SQL} FROM webhook_deliveries WHERE instr(event_id, ':') > 0;
UPDATE webhook_deliveries
  SET event_id = (SELECT m.event_id FROM webhook_event_ids m WHERE m.event_key = webhook_deliveries.event_id),
      payload = CASE WHEN json_valid(payload)
        THEN json_set(payload, '$.id', (SELECT m.event_id FROM webhook_event_ids m WHERE m.event_key = webhook_deliveries.event_id))
        ELSE payload END
  WHERE instr(event_id, ':') > 0;

${DROP_WEBHOOK_TRIGGERS_SQL}
${webhookTriggersSql(UUID_SQL)}`;

/**
 * The webhook triggers, every delivery's id given by the SQL expression `deliveryId` (migration 11
 * creates them again with time-ordered ids; the rest of their text is this migration's, frozen).
 */
export function webhookTriggersSql(deliveryId: string): string {
  return `
-- deployment.applied / deployment.failed: an agent's SUCCESS or FAILURE event; its id is the agent event's.
CREATE TRIGGER webhook_agent_event AFTER INSERT ON agent_events FOR EACH ROW
WHEN NEW.status IN ('SUCCESS', 'FAILURE') AND ${ANY_SUBSCRIPTION}
BEGIN
  ${enqueueSql(agentEventTypeSql('NEW'), 'NEW.id', agentEventDataSql('NEW'), deliveryId)};
END;

-- stack.invalid: a commit recorded an error for a stack (one event per stack and commit: the key).
CREATE TRIGGER webhook_stack_invalid AFTER INSERT ON sync_errors FOR EACH ROW
WHEN ${ANY_SUBSCRIPTION}
BEGIN
  ${keyed(
    "'stack.invalid'",
    STACK_INVALID_KEY,
    `(SELECT json_object('generator_id', NEW.generator_id, 'repository', g.name, 'stack_path', NEW.stack_path, 'stack_name', NEW.stack_name,
        'commit_sha', NEW.commit_sha, 'file', NEW.file, 'line', NEW.line, 'message', NEW.message, 'created_at', NEW.created_at)
      FROM (SELECT NULL) LEFT JOIN generators g ON g.id = NEW.generator_id)`,
    deliveryId,
  )};
END;

-- sync.failed: a repository that synced starts failing (not again while it keeps failing); each time a new event.
CREATE TRIGGER webhook_sync_failed AFTER UPDATE OF last_error ON sync_state FOR EACH ROW
WHEN NEW.last_error IS NOT NULL AND OLD.last_error IS NULL AND ${ANY_SUBSCRIPTION}
BEGIN
  ${enqueueSql("'sync.failed'", UUID_SQL, SYNC_FAILED_DATA, deliveryId)};
END;
CREATE TRIGGER webhook_sync_failed_first AFTER INSERT ON sync_state FOR EACH ROW
WHEN NEW.last_error IS NOT NULL AND ${ANY_SUBSCRIPTION}
BEGIN
  ${enqueueSql("'sync.failed'", UUID_SQL, SYNC_FAILED_DATA, deliveryId)};
END;

${rolloutTriggers('INSERT', deliveryId)}
${rolloutTriggers('UPDATE', deliveryId)}
`;
}

/** rollout.halted (once per halted object) and rollout.completed (once per object), as in migration 9. */
function rolloutTriggers(on: 'INSERT' | 'UPDATE', deliveryId: string): string {
  const data = `(SELECT json_object('stack_id', NEW.stack_id, 'stack_name', st.name, 'deployment_object_id', NEW.target_object_id,
      'sequence_id', o.sequence_id, 'waves', json_array_length(NEW.waves) + 1, 'halt_reason', NEW.halt_reason)
    FROM (SELECT NULL) LEFT JOIN stacks st ON st.id = NEW.stack_id LEFT JOIN deployment_objects o ON o.id = NEW.target_object_id)`;
  const released = (row: 'NEW' | 'OLD') =>
    `(${row}.target_object_id IS NOT NULL AND json_valid(${row}.released) AND NOT EXISTS (SELECT 1 FROM json_each(${row}.released) r WHERE r.value IS NOT ${row}.target_object_id))`;
  const wasHalted = on === 'UPDATE' ? 'AND NOT (OLD.halt_reason IS NOT NULL AND OLD.target_object_id IS NEW.target_object_id)' : '';
  const wasComplete = on === 'UPDATE' ? `AND NOT (${released('OLD')} AND OLD.target_object_id IS NEW.target_object_id)` : '';
  const suffix = on.toLowerCase();
  return `
CREATE TRIGGER webhook_rollout_halted_${suffix} AFTER ${on} ON stack_rollouts FOR EACH ROW
WHEN NEW.halt_reason IS NOT NULL ${wasHalted} AND ${ANY_SUBSCRIPTION}
BEGIN
  ${keyed("'rollout.halted'", "'rollout.halted:' || NEW.stack_id || ':' || coalesce(NEW.target_object_id, '')", data, deliveryId)};
END;
CREATE TRIGGER webhook_rollout_completed_${suffix} AFTER ${on} ON stack_rollouts FOR EACH ROW
WHEN json_valid(NEW.waves) AND json_array_length(NEW.waves) > 0 AND ${released('NEW')} ${wasComplete} AND ${ANY_SUBSCRIPTION}
BEGIN
  ${keyed("'rollout.completed'", "'rollout.completed:' || NEW.stack_id || ':' || NEW.target_object_id", data, deliveryId)};
END;`;
}

export const webhookFilters: Migration = { version: 10, name: 'webhook-filters', sql: SQL };
