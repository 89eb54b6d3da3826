/** Migration 6: brokkr's deployment_health table — one row per (agent, object), the agent's latest health report. */
import { NOW_SQL, UUID_SQL } from '../sql-fragments.js';
import type { Migration } from './migration.js';

/*
 * The row goes with its agent and with its object on hard delete. The foreign keys say so, and
 * BEFORE DELETE triggers do it too, so that a client with foreign keys off (the sqlite3 shell)
 * leaves no orphans: a stack's hard delete reaches here through the delete of its objects. A soft
 * delete keeps the rows (history, like events). updated_at is maintained as in migration 1.
 */
const SQL = `
CREATE TABLE deployment_health (
  id TEXT PRIMARY KEY NOT NULL DEFAULT (${UUID_SQL}),
  agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  deployment_object_id TEXT NOT NULL REFERENCES deployment_objects (id) ON DELETE CASCADE,
  status VARCHAR(10) NOT NULL CHECK (status IN ('healthy', 'degraded', 'failing', 'unknown')),
  summary TEXT,
  checked_at TEXT NOT NULL DEFAULT (${NOW_SQL}),
  created_at TEXT NOT NULL DEFAULT (${NOW_SQL}),
  updated_at TEXT NOT NULL DEFAULT (${NOW_SQL}),
  CONSTRAINT unique_deployment_health_agent_object UNIQUE (agent_id, deployment_object_id)
);
CREATE INDEX idx_deployment_health_object ON deployment_health (deployment_object_id);

CREATE TRIGGER update_deployment_health_timestamp AFTER UPDATE ON deployment_health FOR EACH ROW
WHEN NEW.updated_at IS NOT ${NOW_SQL}
BEGIN
  UPDATE deployment_health SET updated_at = ${NOW_SQL} WHERE id = NEW.id;
END;

CREATE TRIGGER protect_deployment_health_created_at BEFORE UPDATE OF created_at ON deployment_health FOR EACH ROW
WHEN NEW.created_at IS NOT OLD.created_at
BEGIN
  SELECT RAISE(ABORT, 'deployment_health.created_at cannot be changed');
END;

CREATE TRIGGER cleanup_deployment_health_of_object BEFORE DELETE ON deployment_objects FOR EACH ROW
BEGIN
  DELETE FROM deployment_health WHERE deployment_object_id = OLD.id;
END;

CREATE TRIGGER cleanup_deployment_health_of_agent BEFORE DELETE ON agents FOR EACH ROW
BEGIN
  DELETE FROM deployment_health WHERE agent_id = OLD.id;
END;
`;

export const deploymentHealth: Migration = { version: 6, name: 'deployment-health', sql: SQL };
