/** Migration 3: sync leases (one syncing replica per repository) and brokkr's heartbeat report columns on agents. */
import type { Migration } from './migration.js';

/*
 * A lease, not a session lock: it works the same on every engine and across processes sharing a
 * SQLite file, it is visible (status shows who syncs what), and applyCommit can check it inside
 * its own transaction, which is what fences a replica that stalled or lost its connection.
 *
 * The agents columns are brokkr's own (its Agent schema has them, nullable): added, nothing renamed.
 *
 * agent_events.seq orders events explicitly (newest first) where created_at ties within one
 * millisecond; it is assigned on insert by a trigger, so every client of the file gets one.
 */
const SQL = `
CREATE TABLE sync_leases (
  generator_id TEXT PRIMARY KEY NOT NULL REFERENCES generators (id) ON DELETE CASCADE,
  holder TEXT NOT NULL,
  acquired_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);

CREATE TRIGGER cleanup_generator_sync_leases BEFORE DELETE ON generators FOR EACH ROW
BEGIN
  DELETE FROM sync_leases WHERE generator_id = OLD.id;
END;

ALTER TABLE agents ADD COLUMN k8s_reachable BOOLEAN CHECK (k8s_reachable IN (0, 1));
ALTER TABLE agents ADD COLUMN k8s_api_latency_ms INTEGER;
ALTER TABLE agents ADD COLUMN k8s_reported_at TEXT;

ALTER TABLE agent_events ADD COLUMN seq INTEGER;
UPDATE agent_events SET seq = rowid;
CREATE UNIQUE INDEX idx_agent_events_seq ON agent_events (seq);
CREATE INDEX idx_agent_events_agent_seq ON agent_events (agent_id, seq);
CREATE TRIGGER assign_agent_event_seq AFTER INSERT ON agent_events FOR EACH ROW WHEN NEW.seq IS NULL
BEGIN
  UPDATE agent_events SET seq = (SELECT coalesce(max(seq), 0) + 1 FROM agent_events) WHERE id = NEW.id;
END;
`;

export const replicas: Migration = { version: 3, name: 'replicas', sql: SQL };
