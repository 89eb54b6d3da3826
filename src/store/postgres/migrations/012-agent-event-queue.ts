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
 * so two collections take different events and neither waits (`p_wait` false: claims). A read of
 * the delivery log passes `p_wait` true and the queue's last seq when it began: it waits for a
 * collection in progress to commit, so what it reads next includes every event queued before it
 * began, and it does not chase events queued since. The (subscription_id, event_id) uniqueness
 * stays the last word: ON CONFLICT DO NOTHING. A claim writes the deliveries it takes as claimed
 * already (one write of the row where SQLite inserts and then updates it: PostgreSQL writes a new
 * version of the row and of each of its indexes on every update).
 *
 * A delivery is dated by its event, as on SQLite: the payload's timestamp, created_at, the time in
 * its id and next_retry_at (so a claim takes it in the order events happened). A subscription gets
 * the events that happened since it was created (s.created_at <= the event's), and one disabled or
 * deleted after an event gets it if collected before (subscription changes collect first, in their
 * own transaction).
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

-- Migration 11's time-ordered UUID (version 7) for time t rather than the clock's: a delivery's id carries its event's time.
CREATE FUNCTION webhook_ordered_uuid_at(t TIMESTAMPTZ) RETURNS UUID LANGUAGE sql VOLATILE AS $$
  SELECT encode(set_bit(set_bit(
    overlay(uuid_send(gen_random_uuid()) PLACING substring(int8send(floor(extract(epoch FROM t) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
    52, 1), 53, 1), 'hex')::uuid
$$;

-- Claim up to p_limit deliveries written already and due (pending or failed whose time has come, or acquired whose
-- lease ran out) for p_holder, oldest first, none of a subscription at p_cap in flight (p_busy: its deliveries in flight
-- already); the rows claimed are returned. One index range per status, each read in order and locked as it is read
-- (a row another replica is claiming is skipped during the scan, not after it): with bitmap scans and sorts allowed,
-- the planner, whose estimate of a status's rows lags a table that changes this fast, read every due row of a backlog
-- and sorted it at each claim (~6 ms a claim in the benchmark); now() (the statement's start) bounds each range —
-- clock_timestamp() is volatile and could not, so retries not yet due were read too.
CREATE FUNCTION webhook_claim_due(p_holder TEXT, p_lease_ms DOUBLE PRECISION, p_limit INTEGER, p_busy JSONB, p_cap INTEGER)
RETURNS SETOF webhook_deliveries LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan SET enable_bitmapscan = off SET enable_sort = off AS $$
BEGIN
  RETURN QUERY
  WITH busy AS (SELECT key::uuid AS sid, value::int AS n FROM jsonb_each_text(p_busy)),
  pending AS (SELECT w.id, w.subscription_id, w.next_retry_at AS due FROM webhook_deliveries w WHERE w.status = 'pending' AND w.next_retry_at <= now()
      AND w.subscription_id NOT IN (SELECT sid FROM busy WHERE n >= p_cap) ORDER BY w.next_retry_at LIMIT p_limit FOR UPDATE SKIP LOCKED),
  failed AS (SELECT w.id, w.subscription_id, w.next_retry_at AS due FROM webhook_deliveries w WHERE w.status = 'failed' AND w.next_retry_at <= now()
      AND w.subscription_id NOT IN (SELECT sid FROM busy WHERE n >= p_cap) ORDER BY w.next_retry_at LIMIT p_limit FOR UPDATE SKIP LOCKED),
  expired AS (SELECT w.id, w.subscription_id, w.acquired_until AS due FROM webhook_deliveries w WHERE w.status = 'acquired' AND w.acquired_until <= now()
      AND w.subscription_id NOT IN (SELECT sid FROM busy WHERE n >= p_cap) ORDER BY w.acquired_until LIMIT p_limit FOR UPDATE SKIP LOCKED),
  ranked AS (
    SELECT c.id, c.due, row_number() OVER (PARTITION BY c.subscription_id ORDER BY c.due) + coalesce(b.n, 0) AS k
    FROM (SELECT * FROM pending UNION ALL SELECT * FROM failed UNION ALL SELECT * FROM expired) c LEFT JOIN busy b ON b.sid = c.subscription_id),
  chosen AS (SELECT ranked.id FROM ranked WHERE k <= p_cap ORDER BY ranked.due LIMIT p_limit),
  claimed AS (
    UPDATE webhook_deliveries d SET status = 'acquired', acquired_by = p_holder,
      acquired_until = clock_timestamp() + p_lease_ms * interval '1 millisecond', attempts = d.attempts + 1, last_attempt_at = clock_timestamp()
    FROM chosen WHERE d.id = chosen.id
    RETURNING d.*)
  SELECT * FROM claimed;
END $$;

-- Up to p_batch queued events with seq <= p_upto (NULL: any), oldest first, taken off the queue and made deliveries: one
-- per enabled subscription that existed when the event happened and wants it (its types: exact, '*' or 'deployment.*';
-- brokkr's filters, as webhook_enqueue), in brokkr's envelope. An event removed since it was queued (only a hard delete
-- of its agent does that) is taken and yields nothing. The rows written are returned.
--
-- A claim passes its holder and budget: it takes only as many events as it has room for (below), and the first
-- p_claim_limit deliveries (taking no subscription past p_cap in flight, counting p_busy, its deliveries in flight
-- already) are written claimed by it — acquired, first attempt, leased for p_lease_ms — the rest pending. One statement; only one of the two locking reads runs
-- (the other's WHERE is false before it reads a row); the delete probes the key for each taken seq.
CREATE FUNCTION webhook_collect_agent_events(p_batch INTEGER, p_wait BOOLEAN, p_upto BIGINT, p_holder TEXT DEFAULT NULL,
    p_lease_ms DOUBLE PRECISION DEFAULT 0, p_claim_limit INTEGER DEFAULT 0, p_cap INTEGER DEFAULT 0, p_busy JSONB DEFAULT '{}')
RETURNS SETOF webhook_deliveries LANGUAGE plpgsql VOLATILE
-- Its one plan, made once per connection: a plan made for each call's values (PL/pgSQL's first choice, kept when it
-- looks no dearer) cost ~2 ms a call, more than writing 40 deliveries.
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  take INTEGER := p_batch;
  room INTEGER;
BEGIN
  -- A claim takes no more events than it could claim deliveries of: as many as the enabled subscription with the most
  -- room below its cap could take, within the claim's limit (none: nothing is collected; the events wait in the queue,
  -- a row each, for a claim with room). The rest would only be written pending now and updated when claimed — a second
  -- version of each row and its indexes. With no subscription enabled, whatever is queued is taken (and yields nothing).
  IF p_holder IS NOT NULL THEN
    SELECT max(p_cap - coalesce((p_busy->>(s.id::text))::int, 0)) INTO room FROM webhook_subscriptions s WHERE s.enabled;
    IF room IS NOT NULL THEN
      take := least(p_batch, p_claim_limit, room);
      IF take <= 0 THEN RETURN; END IF;
    END IF;
  END IF;
  RETURN QUERY
  WITH picked AS (
    SELECT x.seq FROM (SELECT w.seq FROM webhook_event_queue w WHERE NOT p_wait AND w.seq <= coalesce(p_upto, 9223372036854775807)
                       ORDER BY w.seq LIMIT take FOR UPDATE SKIP LOCKED) x
    UNION ALL
    SELECT y.seq FROM (SELECT w.seq FROM webhook_event_queue w WHERE p_wait AND w.seq <= coalesce(p_upto, 9223372036854775807)
                       ORDER BY w.seq LIMIT take FOR UPDATE) y),
  q AS (DELETE FROM webhook_event_queue w WHERE w.seq = ANY (ARRAY(SELECT seq FROM picked)) RETURNING w.seq, w.agent_event_id),
  e AS (
    SELECT q.seq, CASE ev.status WHEN 'SUCCESS' THEN 'deployment.applied' ELSE 'deployment.failed' END AS t, ev.id::text AS eid,
      ev.created_at AS at, ev.agent_id, o.stack_id,
      jsonb_build_object('agent_event_id', ev.id, 'agent_id', ev.agent_id, 'agent_name', a.name, 'cluster_name', a.cluster_name,
        'deployment_object_id', ev.deployment_object_id, 'stack_id', o.stack_id, 'stack_name', st.name, 'sequence_id', o.sequence_id,
        'event_type', ev.event_type, 'status', ev.status, 'message', ev.message, 'created_at', webhook_ts(ev.created_at)) AS data
    FROM q JOIN agent_events ev ON ev.id = q.agent_event_id
      JOIN agents a ON a.id = ev.agent_id JOIN deployment_objects o ON o.id = ev.deployment_object_id LEFT JOIN stacks st ON st.id = o.stack_id),
  d AS (
    SELECT e.*, s.id AS sid, row_number() OVER (ORDER BY e.seq, s.id) AS n,
      row_number() OVER (PARTITION BY s.id ORDER BY e.seq) + coalesce((p_busy->>(s.id::text))::int, 0) <= p_cap AS may
    FROM e JOIN webhook_subscriptions s ON s.enabled AND s.created_at <= e.at AND s.event_types ?| ARRAY['*', 'deployment.*', e.t]
      AND (s.filters IS NULL OR (
        (s.filters->>'agent_id' IS NULL OR lower(s.filters->>'agent_id') = e.agent_id::text)
        AND (s.filters->>'stack_id' IS NULL OR lower(s.filters->>'stack_id') = e.stack_id::text)))),
  r AS (SELECT d.*, p_holder IS NOT NULL AND d.may AND row_number() OVER (PARTITION BY d.may ORDER BY d.n) <= p_claim_limit AS mine FROM d),
  written AS (
    INSERT INTO webhook_deliveries AS w (id, subscription_id, event_type, event_id, payload, created_at, next_retry_at,
        status, acquired_by, acquired_until, attempts, last_attempt_at)
    SELECT webhook_ordered_uuid_at(r.at), r.sid, r.t, r.eid,
      jsonb_build_object('id', r.eid, 'event_type', r.t, 'timestamp', webhook_ts(r.at), 'data', r.data)::text, r.at, r.at,
      CASE WHEN r.mine THEN 'acquired' ELSE 'pending' END, CASE WHEN r.mine THEN p_holder END,
      CASE WHEN r.mine THEN clock_timestamp() + p_lease_ms * interval '1 millisecond' END, CASE WHEN r.mine THEN 1 ELSE 0 END,
      CASE WHEN r.mine THEN clock_timestamp() END
    FROM r ORDER BY r.n
    ON CONFLICT (subscription_id, event_id) DO NOTHING
    RETURNING w.*)
  SELECT * FROM written;
END $$;
`;

export const agentEventQueue: Migration = { version: 12, name: 'agent-event-queue', sql: SQL };
