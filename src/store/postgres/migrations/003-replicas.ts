/** Migration 3 (PostgreSQL): sync leases, brokkr's heartbeat report columns on agents, and agent_events.seq. */
import type { Migration } from '../../sqlite/migrations/migration.js';

/*
 * Same meaning as SQLite's migration 3. agent_events.seq is a BIGSERIAL here: ADD COLUMN fills the
 * existing rows from the sequence, and every later insert, from any client, takes the next value.
 */
const SQL = `
CREATE TABLE sync_leases (
  generator_id UUID PRIMARY KEY REFERENCES generators (id) ON DELETE CASCADE,
  holder TEXT NOT NULL,
  acquired_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
);

CREATE FUNCTION cleanup_generator_sync_leases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM sync_leases WHERE generator_id = OLD.id;
  RETURN OLD;
END $$;
CREATE TRIGGER cleanup_generator_sync_leases BEFORE DELETE ON generators
  FOR EACH ROW EXECUTE FUNCTION cleanup_generator_sync_leases();

ALTER TABLE agents ADD COLUMN k8s_reachable BOOLEAN;
ALTER TABLE agents ADD COLUMN k8s_api_latency_ms INTEGER;
ALTER TABLE agents ADD COLUMN k8s_reported_at TIMESTAMPTZ;

ALTER TABLE agent_events ADD COLUMN seq BIGSERIAL;
CREATE UNIQUE INDEX idx_agent_events_seq ON agent_events (seq);
CREATE INDEX idx_agent_events_agent_seq ON agent_events (agent_id, seq);
`;

export const replicas: Migration = { version: 3, name: 'replicas', sql: SQL };
