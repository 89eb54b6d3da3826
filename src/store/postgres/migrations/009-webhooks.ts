/** Migration 9 (PostgreSQL): outbound webhooks (SPEC §11) — subscriptions, the delivery queue, and the triggers that fill it. */
import type { Migration } from '../../sqlite/migrations/migration.js';

/*
 * The same tables and the same trigger rules as SQLite's migration 9 (see there for why); here one
 * PL/pgSQL function, webhook_enqueue, holds the subscription matching that SQLite inlines in each
 * trigger, and the daemon calls it too (agent.offline/online). event_types is JSONB (always an array).
 */
const SQL = `
CREATE TABLE webhook_subscriptions (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  name VARCHAR(255) NOT NULL CHECK (length(name) >= 1),
  url TEXT NOT NULL,
  secret TEXT,
  format VARCHAR(10) NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'slack')),
  event_types JSONB NOT NULL CHECK (jsonb_typeof(event_types) = 'array'),
  enabled BOOLEAN NOT NULL DEFAULT TRUE,
  timeout_seconds INTEGER NOT NULL DEFAULT 10 CHECK (timeout_seconds BETWEEN 1 AND 300),
  created_by TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX webhook_subscriptions_name ON webhook_subscriptions (name);

CREATE TABLE webhook_deliveries (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  subscription_id UUID NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
  event_type VARCHAR(100) NOT NULL,
  event_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  status VARCHAR(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'acquired', 'success', 'failed', 'dead')),
  acquired_by TEXT,
  acquired_until TIMESTAMPTZ,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_attempt_at TIMESTAMPTZ,
  next_retry_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_error TEXT,
  last_status_code INTEGER,
  response_excerpt TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  completed_at TIMESTAMPTZ,
  UNIQUE (subscription_id, event_id)
);
CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (status, next_retry_at);
-- Every event writes a row: one index besides the key and the uniqueness (claims read 'acquired' rows through the
-- status index — a few per replica; a subscription's log is read through its unique index and sorted).

CREATE TABLE webhook_agent_presence (
  agent_id UUID PRIMARY KEY REFERENCES agents (id) ON DELETE CASCADE,
  offline BOOLEAN NOT NULL,
  last_heartbeat TIMESTAMPTZ,
  changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE FUNCTION webhook_ts(t TIMESTAMPTZ) RETURNS TEXT LANGUAGE sql STABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE FUNCTION update_webhook_subscriptions_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER update_webhook_subscriptions_updated_at BEFORE UPDATE ON webhook_subscriptions
  FOR EACH ROW EXECUTE FUNCTION update_webhook_subscriptions_updated_at();

-- One delivery per enabled subscription that wants the event (exact type, '*', or 'prefix.*'); brokkr's envelope.
CREATE FUNCTION webhook_enqueue(ev TEXT, eid TEXT, data JSONB) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
  n INTEGER;
BEGIN
  INSERT INTO webhook_deliveries (subscription_id, event_type, event_id, payload)
  SELECT s.id, ev, eid, jsonb_build_object('id', eid, 'event_type', ev, 'timestamp', webhook_ts(clock_timestamp()), 'data', data)::text
  FROM webhook_subscriptions s
  WHERE s.enabled AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(s.event_types) p(v)
    WHERE p.v = '*' OR p.v = ev OR (right(p.v, 2) = '.*' AND left(ev, length(p.v) - 1) = left(p.v, length(p.v) - 1)))
  ON CONFLICT (subscription_id, event_id) DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

CREATE FUNCTION webhook_agent_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status NOT IN ('SUCCESS', 'FAILURE') OR NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled) THEN
    RETURN NULL;
  END IF;
  PERFORM webhook_enqueue(
    CASE NEW.status WHEN 'SUCCESS' THEN 'deployment.applied' ELSE 'deployment.failed' END,
    NEW.id::text,
    (SELECT jsonb_build_object('agent_event_id', NEW.id, 'agent_id', NEW.agent_id, 'agent_name', a.name, 'cluster_name', a.cluster_name,
        'deployment_object_id', NEW.deployment_object_id, 'stack_id', o.stack_id, 'stack_name', st.name, 'sequence_id', o.sequence_id,
        'event_type', NEW.event_type, 'status', NEW.status, 'message', NEW.message, 'created_at', webhook_ts(NEW.created_at))
      FROM agents a, deployment_objects o LEFT JOIN stacks st ON st.id = o.stack_id
      WHERE a.id = NEW.agent_id AND o.id = NEW.deployment_object_id));
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_agent_event AFTER INSERT ON agent_events FOR EACH ROW EXECUTE FUNCTION webhook_agent_event();

CREATE FUNCTION webhook_stack_invalid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled) THEN RETURN NULL; END IF;
  PERFORM webhook_enqueue('stack.invalid', 'stack.invalid:' || NEW.generator_id || ':' || NEW.stack_path || ':' || NEW.commit_sha,
    jsonb_build_object('generator_id', NEW.generator_id, 'repository', (SELECT name FROM generators WHERE id = NEW.generator_id),
      'stack_path', NEW.stack_path, 'stack_name', NEW.stack_name, 'commit_sha', NEW.commit_sha, 'file', NEW.file, 'line', NEW.line,
      'message', NEW.message, 'created_at', webhook_ts(NEW.created_at)));
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_stack_invalid AFTER INSERT ON sync_errors FOR EACH ROW EXECUTE FUNCTION webhook_stack_invalid();

CREATE FUNCTION webhook_sync_failed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.last_error IS NULL OR (TG_OP = 'UPDATE' AND OLD.last_error IS NOT NULL)
     OR NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled) THEN
    RETURN NULL;
  END IF;
  PERFORM webhook_enqueue('sync.failed', 'sync.failed:' || NEW.generator_id || ':' || gen_random_uuid(),
    jsonb_build_object('generator_id', NEW.generator_id, 'repository', (SELECT name FROM generators WHERE id = NEW.generator_id),
      'branch', NEW.branch, 'cursor_commit', NEW.cursor_commit, 'message', NEW.last_error));
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_sync_failed AFTER INSERT OR UPDATE OF last_error ON sync_state FOR EACH ROW EXECUTE FUNCTION webhook_sync_failed();

-- Is the row's target object released to every wave? (released: JSON text, one entry per wave.)
CREATE FUNCTION webhook_fully_released(target UUID, released TEXT) RETURNS BOOLEAN LANGUAGE sql IMMUTABLE AS $$
  SELECT target IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements_text(released::jsonb) r(v) WHERE r.v IS DISTINCT FROM target::text)
$$;

CREATE FUNCTION webhook_rollout() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  data JSONB;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled) THEN RETURN NULL; END IF;
  data := (SELECT jsonb_build_object('stack_id', NEW.stack_id, 'stack_name', st.name, 'deployment_object_id', NEW.target_object_id,
      'sequence_id', o.sequence_id, 'waves', jsonb_array_length(NEW.waves::jsonb) + 1, 'halt_reason', NEW.halt_reason)
    FROM (SELECT 1) one LEFT JOIN stacks st ON st.id = NEW.stack_id LEFT JOIN deployment_objects o ON o.id = NEW.target_object_id);
  IF NEW.halt_reason IS NOT NULL
     AND NOT (TG_OP = 'UPDATE' AND OLD.halt_reason IS NOT NULL AND OLD.target_object_id IS NOT DISTINCT FROM NEW.target_object_id) THEN
    PERFORM webhook_enqueue('rollout.halted', 'rollout.halted:' || NEW.stack_id || ':' || coalesce(NEW.target_object_id::text, ''), data);
  END IF;
  IF jsonb_array_length(NEW.waves::jsonb) > 0 AND webhook_fully_released(NEW.target_object_id, NEW.released)
     AND NOT (TG_OP = 'UPDATE' AND OLD.target_object_id IS NOT DISTINCT FROM NEW.target_object_id
              AND webhook_fully_released(OLD.target_object_id, OLD.released)) THEN
    PERFORM webhook_enqueue('rollout.completed', 'rollout.completed:' || NEW.stack_id || ':' || NEW.target_object_id, data);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_rollout AFTER INSERT OR UPDATE ON stack_rollouts FOR EACH ROW EXECUTE FUNCTION webhook_rollout();
`;

export const webhooks: Migration = { version: 9, name: 'webhooks', sql: SQL };
