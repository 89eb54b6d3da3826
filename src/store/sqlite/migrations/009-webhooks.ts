/** Migration 9: outbound webhooks (SPEC §11) — subscriptions, the delivery queue, and the triggers that fill it. */
import { NOW_SQL, UUID_SQL } from '../sql-fragments.js';
import type { Migration } from './migration.js';

/*
 * Table and column names are brokkr's (webhook_subscriptions, webhook_deliveries), plus `secret`,
 * `format` and the response columns. A delivery row is written by a TRIGGER in the transaction of
 * the change it reports (an agent event, a sync error, a sync failure, a rollout halting or
 * completing), so no change commits without its deliveries, whichever client made it. The pair
 * (subscription_id, event_id) is unique: an event id is a stable key of what happened, so a change
 * noticed twice (two replicas marking the same agent offline) is delivered once.
 * agent.offline/online are noticed by time, not by a write: the daemon does it (webhook_agent_presence
 * remembers which agents were reported offline).
 */

/** Does subscription `s` want event type `t` (exact, `*`, or a `prefix.*` pattern)? */
const MATCHES = (t: string) =>
  `EXISTS (SELECT 1 FROM json_each(s.event_types) p WHERE p.value = '*' OR p.value = ${t}
     OR (substr(p.value, -2) = '.*' AND substr(${t}, 1, length(p.value) - 1) = substr(p.value, 1, length(p.value) - 1)))`;

/**
 * One delivery per enabled subscription that wants the event. `data` is an SQL expression giving
 * a JSON object; the body is brokkr's envelope {id, event_type, timestamp, data}.
 */
export function enqueueSql(type: string, eventId: string, data: string): string {
  return `INSERT OR IGNORE INTO webhook_deliveries (id, subscription_id, event_type, event_id, payload)
  SELECT ${UUID_SQL}, s.id, e.t, e.eid, json_object('id', e.eid, 'event_type', e.t, 'timestamp', ${NOW_SQL}, 'data', json(e.data))
  FROM webhook_subscriptions s, (SELECT ${type} AS t, ${eventId} AS eid, ${data} AS data) e
  WHERE s.enabled = 1 AND json_valid(s.event_types) AND ${MATCHES('e.t')}`;
}

const ANY_SUBSCRIPTION = 'EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled = 1)';

const SQL = `
CREATE TABLE webhook_subscriptions (
  id TEXT PRIMARY KEY NOT NULL,
  name VARCHAR(255) NOT NULL CHECK (length(name) >= 1),
  url TEXT NOT NULL,
  secret TEXT,
  format VARCHAR(10) NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'slack')),
  event_types TEXT NOT NULL CHECK (json_valid(event_types) AND json_type(event_types) = 'array'),
  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  timeout_seconds INTEGER NOT NULL DEFAULT 10 CHECK (timeout_seconds BETWEEN 1 AND 300),
  created_by TEXT,
  created_at TEXT NOT NULL DEFAULT (${NOW_SQL}),
  updated_at TEXT NOT NULL DEFAULT (${NOW_SQL})
);
CREATE UNIQUE INDEX webhook_subscriptions_name ON webhook_subscriptions (name);

CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY NOT NULL,
  subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
  event_type VARCHAR(100) NOT NULL,
  event_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  status VARCHAR(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'acquired', 'success', 'failed', 'dead')),
  acquired_by TEXT,
  acquired_until TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_attempt_at TEXT,
  next_retry_at TEXT NOT NULL DEFAULT (${NOW_SQL}),
  last_error TEXT,
  last_status_code INTEGER,
  response_excerpt TEXT,
  created_at TEXT NOT NULL DEFAULT (${NOW_SQL}),
  completed_at TEXT,
  UNIQUE (subscription_id, event_id)
);
CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (status, next_retry_at);
-- Every event writes a row: one index besides the key and the uniqueness (claims read 'acquired' rows through the
-- status index — a few per replica; a subscription's log is read through its unique index and sorted).

CREATE TABLE webhook_agent_presence (
  agent_id TEXT PRIMARY KEY NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  offline INTEGER NOT NULL CHECK (offline IN (0, 1)),
  last_heartbeat TEXT,
  changed_at TEXT NOT NULL DEFAULT (${NOW_SQL})
);

-- Hard deletes, for clients with foreign keys off (the sqlite3 shell's default).
CREATE TRIGGER cleanup_webhook_deliveries BEFORE DELETE ON webhook_subscriptions FOR EACH ROW
BEGIN
  DELETE FROM webhook_deliveries WHERE subscription_id = OLD.id;
END;
CREATE TRIGGER cleanup_webhook_agent_presence BEFORE DELETE ON agents FOR EACH ROW
BEGIN
  DELETE FROM webhook_agent_presence WHERE agent_id = OLD.id;
END;

CREATE TRIGGER update_webhook_subscriptions_updated_at AFTER UPDATE ON webhook_subscriptions FOR EACH ROW
WHEN NEW.updated_at = OLD.updated_at
BEGIN
  UPDATE webhook_subscriptions SET updated_at = ${NOW_SQL} WHERE id = NEW.id;
END;

-- deployment.applied / deployment.failed: an agent's SUCCESS or FAILURE event (brokkr's payload, plus names).
CREATE TRIGGER webhook_agent_event AFTER INSERT ON agent_events FOR EACH ROW
WHEN NEW.status IN ('SUCCESS', 'FAILURE') AND ${ANY_SUBSCRIPTION}
BEGIN
  ${enqueueSql(
    "CASE NEW.status WHEN 'SUCCESS' THEN 'deployment.applied' ELSE 'deployment.failed' END",
    'NEW.id',
    `(SELECT json_object('agent_event_id', NEW.id, 'agent_id', NEW.agent_id, 'agent_name', a.name, 'cluster_name', a.cluster_name,
        'deployment_object_id', NEW.deployment_object_id, 'stack_id', o.stack_id, 'stack_name', st.name, 'sequence_id', o.sequence_id,
        'event_type', NEW.event_type, 'status', NEW.status, 'message', NEW.message, 'created_at', NEW.created_at)
      FROM agents a, deployment_objects o LEFT JOIN stacks st ON st.id = o.stack_id
      WHERE a.id = NEW.agent_id AND o.id = NEW.deployment_object_id)`,
  )};
END;

-- stack.invalid: a commit recorded an error for a stack (one event per stack and commit).
CREATE TRIGGER webhook_stack_invalid AFTER INSERT ON sync_errors FOR EACH ROW
WHEN ${ANY_SUBSCRIPTION}
BEGIN
  ${enqueueSql(
    "'stack.invalid'",
    "'stack.invalid:' || NEW.generator_id || ':' || NEW.stack_path || ':' || NEW.commit_sha",
    `(SELECT json_object('generator_id', NEW.generator_id, 'repository', g.name, 'stack_path', NEW.stack_path, 'stack_name', NEW.stack_name,
        'commit_sha', NEW.commit_sha, 'file', NEW.file, 'line', NEW.line, 'message', NEW.message, 'created_at', NEW.created_at)
      FROM (SELECT NULL) LEFT JOIN generators g ON g.id = NEW.generator_id)`,
  )};
END;

-- sync.failed: a repository that synced starts failing (not again while it keeps failing).
CREATE TRIGGER webhook_sync_failed AFTER UPDATE OF last_error ON sync_state FOR EACH ROW
WHEN NEW.last_error IS NOT NULL AND OLD.last_error IS NULL AND ${ANY_SUBSCRIPTION}
BEGIN
  ${enqueueSql(
    "'sync.failed'",
    `'sync.failed:' || NEW.generator_id || ':' || ${UUID_SQL}`,
    `(SELECT json_object('generator_id', NEW.generator_id, 'repository', g.name, 'branch', NEW.branch, 'cursor_commit', NEW.cursor_commit, 'message', NEW.last_error)
      FROM (SELECT NULL) LEFT JOIN generators g ON g.id = NEW.generator_id)`,
  )};
END;
CREATE TRIGGER webhook_sync_failed_first AFTER INSERT ON sync_state FOR EACH ROW
WHEN NEW.last_error IS NOT NULL AND ${ANY_SUBSCRIPTION}
BEGIN
  ${enqueueSql(
    "'sync.failed'",
    `'sync.failed:' || NEW.generator_id || ':' || ${UUID_SQL}`,
    `(SELECT json_object('generator_id', NEW.generator_id, 'repository', g.name, 'branch', NEW.branch, 'cursor_commit', NEW.cursor_commit, 'message', NEW.last_error)
      FROM (SELECT NULL) LEFT JOIN generators g ON g.id = NEW.generator_id)`,
  )};
END;

${rolloutTriggers('INSERT')}
${rolloutTriggers('UPDATE')}
`;

/**
 * rollout.halted: a halt reason appears (once per halted object). rollout.completed: a stack with
 * waves has its target object released to every wave (once per object).
 */
function rolloutTriggers(on: 'INSERT' | 'UPDATE'): string {
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
  ${enqueueSql("'rollout.halted'", "'rollout.halted:' || NEW.stack_id || ':' || coalesce(NEW.target_object_id, '')", data)};
END;
CREATE TRIGGER webhook_rollout_completed_${suffix} AFTER ${on} ON stack_rollouts FOR EACH ROW
WHEN json_valid(NEW.waves) AND json_array_length(NEW.waves) > 0 AND ${released('NEW')} ${wasComplete} AND ${ANY_SUBSCRIPTION}
BEGIN
  ${enqueueSql("'rollout.completed'", "'rollout.completed:' || NEW.stack_id || ':' || NEW.target_object_id", data)};
END;`;
}

export const webhooks: Migration = { version: 9, name: 'webhooks', sql: SQL };
