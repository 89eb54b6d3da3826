/** Migration 6 (PostgreSQL): brokkr's deployment_health table — one row per (agent, object), the agent's latest health report. */
import type { Migration } from '../../sqlite/migrations/migration.js';

/*
 * Same table, names and cascades as SQLite's: the rows go with their agent and their object on
 * hard delete (foreign keys, and BEFORE DELETE triggers like the data model's other cascades);
 * updated_at and created_at use migration 1's functions.
 */
const SQL = `
CREATE TABLE deployment_health (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  deployment_object_id UUID NOT NULL REFERENCES deployment_objects (id) ON DELETE CASCADE,
  status VARCHAR(10) NOT NULL CHECK (status IN ('healthy', 'degraded', 'failing', 'unknown')),
  summary TEXT,
  checked_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT unique_deployment_health_agent_object UNIQUE (agent_id, deployment_object_id)
);
CREATE INDEX idx_deployment_health_object ON deployment_health (deployment_object_id);

CREATE TRIGGER update_deployment_health_timestamp BEFORE UPDATE ON deployment_health FOR EACH ROW EXECUTE FUNCTION update_timestamp();
CREATE TRIGGER protect_deployment_health_created_at BEFORE UPDATE ON deployment_health FOR EACH ROW EXECUTE FUNCTION protect_created_at();

CREATE FUNCTION cleanup_deployment_health_of_object() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM deployment_health WHERE deployment_object_id = OLD.id;
  RETURN OLD;
END $$;
CREATE TRIGGER cleanup_deployment_health_of_object BEFORE DELETE ON deployment_objects
  FOR EACH ROW EXECUTE FUNCTION cleanup_deployment_health_of_object();

CREATE FUNCTION cleanup_deployment_health_of_agent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM deployment_health WHERE agent_id = OLD.id;
  RETURN OLD;
END $$;
CREATE TRIGGER cleanup_deployment_health_of_agent BEFORE DELETE ON agents
  FOR EACH ROW EXECUTE FUNCTION cleanup_deployment_health_of_agent();
`;

export const deploymentHealth: Migration = { version: 6, name: 'deployment-health', sql: SQL };
