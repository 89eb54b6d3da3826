/** Migration 7 (PostgreSQL): progressive delivery — a stack's rollout settings and release state, and rollback provenance. */
import type { Migration } from '../../sqlite/migrations/migration.js';

/* The same tables as SQLite's (JSON kept as text, so both engines parse one format). */
const SQL = `
CREATE TABLE stack_rollouts (
  stack_id UUID PRIMARY KEY REFERENCES stacks (id) ON DELETE CASCADE,
  waves TEXT NOT NULL DEFAULT '[]',
  gate VARCHAR(10) NOT NULL DEFAULT 'success' CHECK (gate IN ('success', 'healthy')),
  depends_on TEXT NOT NULL DEFAULT '[]',
  target_object_id UUID,
  released TEXT NOT NULL DEFAULT '[]',
  paused BOOLEAN NOT NULL DEFAULT FALSE,
  halt_reason TEXT,
  acknowledged_seq BIGINT NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_stack_rollouts_target ON stack_rollouts (target_object_id);

CREATE TABLE object_rollbacks (
  deployment_object_id UUID PRIMARY KEY REFERENCES deployment_objects (id) ON DELETE CASCADE,
  source_object_id UUID NOT NULL,
  source_sequence_id BIGINT NOT NULL,
  replaced_object_id UUID,
  replaced_sequence_id BIGINT,
  actor TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE FUNCTION cleanup_stack_rollouts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM stack_rollouts WHERE stack_id = OLD.id;
  RETURN OLD;
END $$;
CREATE TRIGGER cleanup_stack_rollouts BEFORE DELETE ON stacks FOR EACH ROW EXECUTE FUNCTION cleanup_stack_rollouts();

CREATE FUNCTION cleanup_object_rollbacks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM object_rollbacks WHERE deployment_object_id = OLD.id;
  RETURN OLD;
END $$;
CREATE TRIGGER cleanup_object_rollbacks BEFORE DELETE ON deployment_objects FOR EACH ROW EXECUTE FUNCTION cleanup_object_rollbacks();
`;

export const rollouts: Migration = { version: 7, name: 'rollouts', sql: SQL };
