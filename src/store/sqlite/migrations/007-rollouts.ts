/** Migration 7: progressive delivery — a stack's rollout settings and release state, and rollback provenance. */
import { NOW_SQL } from '../sql-fragments.js';
import type { Migration } from './migration.js';

/*
 * stack_rollouts: one row per stack that has waves, dependsOn, a pause, or a release still in
 * progress; stacks without one take the target state's fast path. `waves`, `depends_on` and
 * `released` are JSON text (released: the object id per wave, the implicit last wave included).
 * Object ids are not foreign keys: a hard-deleted object simply stops being delivered.
 * object_rollbacks: who made a rollback object, from which object, replacing which.
 */
const SQL = `
CREATE TABLE stack_rollouts (
  stack_id TEXT PRIMARY KEY NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
  waves TEXT NOT NULL DEFAULT '[]',
  gate VARCHAR(10) NOT NULL DEFAULT 'success' CHECK (gate IN ('success', 'healthy')),
  depends_on TEXT NOT NULL DEFAULT '[]',
  target_object_id TEXT,
  released TEXT NOT NULL DEFAULT '[]',
  paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
  halt_reason TEXT,
  -- FAILURE events up to this agent_events.seq were overruled by an admin (promote, resume): they no longer halt.
  acknowledged_seq INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (${NOW_SQL}),
  updated_at TEXT NOT NULL DEFAULT (${NOW_SQL})
);

CREATE INDEX idx_stack_rollouts_target ON stack_rollouts (target_object_id);

CREATE TABLE object_rollbacks (
  deployment_object_id TEXT PRIMARY KEY NOT NULL REFERENCES deployment_objects (id) ON DELETE CASCADE,
  source_object_id TEXT NOT NULL,
  source_sequence_id INTEGER NOT NULL,
  replaced_object_id TEXT,
  replaced_sequence_id INTEGER,
  actor TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (${NOW_SQL})
);

CREATE TRIGGER cleanup_stack_rollouts BEFORE DELETE ON stacks FOR EACH ROW
BEGIN
  DELETE FROM stack_rollouts WHERE stack_id = OLD.id;
END;

CREATE TRIGGER cleanup_object_rollbacks BEFORE DELETE ON deployment_objects FOR EACH ROW
BEGIN
  DELETE FROM object_rollbacks WHERE deployment_object_id = OLD.id;
END;
`;

export const rollouts: Migration = { version: 7, name: 'rollouts', sql: SQL };
