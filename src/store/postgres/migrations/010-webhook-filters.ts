/** Migration 10 (PostgreSQL): outbound webhooks get brokkr's payload filters, and every event a UUID as its id (SPEC §11, issue 15). */
import type { Migration } from '../../sqlite/migrations/migration.js';

/*
 * The same rules as SQLite's migration 10 (see there). Every trigger of migration 9 goes through
 * webhook_enqueue, so replacing that one function is the whole change here: it evaluates the
 * subscription's filters against the event's data, and turns an event key that is not a UUID
 * into a name-based UUID (version 3: MD5 of a fixed namespace and the key, RFC 9562), so the same
 * key gives the same id on every replica without any shared state — which is what lets the
 * (subscription_id, event_id) uniqueness make one delivery of a change two replicas notice.
 * (SQLite, one process per file and no hash function, keeps a key → UUID table instead.)
 */
const SQL = `
ALTER TABLE webhook_subscriptions ADD COLUMN filters JSONB CHECK (filters IS NULL OR jsonb_typeof(filters) = 'object');

-- UUID version 3 of key in the namespace 6f1c5f0e-5d1b-4c53-9a4e-2b0c0de0b1e5 (brokkr-sync webhook events).
CREATE FUNCTION webhook_event_uuid(key TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-3' || substr(h, 14, 3) || '-'
      || substr('89ab', (get_byte(decode(substr(h, 17, 2), 'hex'), 0) >> 4 & 3) + 1, 1) || substr(h, 18, 3) || '-' || substr(h, 21, 12)
  FROM (SELECT md5(decode('6f1c5f0e5d1b4c539a4e2b0c0de0b1e5', 'hex') || convert_to(key, 'UTF8')) AS h) x
$$;

CREATE OR REPLACE FUNCTION webhook_enqueue(ev TEXT, eid TEXT, data JSONB) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
  n INTEGER;
  event_uuid TEXT := CASE WHEN eid ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN eid ELSE webhook_event_uuid(eid) END;
BEGIN
  INSERT INTO webhook_deliveries (subscription_id, event_type, event_id, payload)
  SELECT s.id, ev, event_uuid, jsonb_build_object('id', event_uuid, 'event_type', ev, 'timestamp', webhook_ts(clock_timestamp()), 'data', data)::text
  FROM webhook_subscriptions s
  WHERE s.enabled AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(s.event_types) p(v)
    WHERE p.v = '*' OR p.v = ev OR (right(p.v, 2) = '.*' AND left(ev, length(p.v) - 1) = left(p.v, length(p.v) - 1)))
    -- brokkr's filters: every set field equals the event's; a missing or null field in the event does not match.
    AND (s.filters IS NULL OR (
      (s.filters->>'agent_id' IS NULL OR lower(s.filters->>'agent_id') = lower(data->>'agent_id'))
      AND (s.filters->>'stack_id' IS NULL OR lower(s.filters->>'stack_id') = lower(data->>'stack_id'))))
  ON CONFLICT (subscription_id, event_id) DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

-- Existing deliveries: every key becomes its UUID, in the payload's id too.
UPDATE webhook_deliveries
  SET event_id = webhook_event_uuid(event_id),
      payload = jsonb_set(payload::jsonb, '{id}', to_jsonb(webhook_event_uuid(event_id)))::text
  WHERE event_id !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
`;

export const webhookFilters: Migration = { version: 10, name: 'webhook-filters', sql: SQL };
