/** Migration 1: the ten tables of the brokkr data model with their constraints, indexes and trigger cascades. */
import { MD5_EMPTY, NOW_SQL, UUID_SQL, isoSql } from '../sql-fragments.js';
import type { Migration } from './migration.js';

/*
 * Type mapping from the PostgreSQL model: UUID and TIMESTAMP become TEXT (a declared type of
 * UUID or TIMESTAMP would get NUMERIC affinity in SQLite), BOOLEAN is 0/1 with a CHECK, and
 * VARCHAR(n) keeps its name plus a CHECK on the length, since SQLite ignores the n.
 *
 * deployment_objects.sequence_id is `INTEGER PRIMARY KEY AUTOINCREMENT` (the rowid): SQLite then
 * assigns it, strictly increasing, and never reuses a value even after the newest row is hard
 * deleted. `id` stays the UUID the API uses, `UNIQUE NOT NULL`, and agent_events references it.
 *
 * Live-name uniqueness (stacks.name, agents (name, cluster_name)) is a partial unique index
 * `WHERE deleted_at IS NULL`, so a name can be reused after a soft delete.
 */

const ID = `id TEXT PRIMARY KEY NOT NULL DEFAULT (${UUID_SQL})`;
const TIMESTAMPS = `
  created_at TEXT NOT NULL DEFAULT (${NOW_SQL}),
  updated_at TEXT NOT NULL DEFAULT (${NOW_SQL}),
  deleted_at TEXT`;
const varchar = (column: string, n: number, min = 0): string =>
  `${column} VARCHAR(${n}) NOT NULL CHECK (length(${column}) BETWEEN ${min} AND ${n})`;
const bool = (column: string, dflt: 0 | 1): string =>
  `${column} BOOLEAN NOT NULL DEFAULT ${dflt} CHECK (${column} IN (0, 1))`;

const TABLES = `
CREATE TABLE generators (
  ${ID},${TIMESTAMPS},
  ${varchar('name', 255, 1)},
  description TEXT,
  api_key_hash TEXT,
  last_active_at TEXT,
  ${bool('is_active', 1)}
);
CREATE UNIQUE INDEX generators_live_name ON generators (name) WHERE deleted_at IS NULL;
CREATE INDEX idx_generators_api_key_hash ON generators (api_key_hash);

CREATE TABLE stacks (
  ${ID},${TIMESTAMPS},
  ${varchar('name', 255, 1)},
  description TEXT,
  generator_id TEXT NOT NULL REFERENCES generators (id)
);
CREATE UNIQUE INDEX unique_live_stack_name ON stacks (name) WHERE deleted_at IS NULL;
CREATE INDEX idx_stacks_generator_id ON stacks (generator_id);

CREATE TABLE agents (
  ${ID},${TIMESTAMPS},
  ${varchar('name', 255, 1)},
  ${varchar('cluster_name', 255, 1)},
  last_heartbeat TEXT,
  status VARCHAR(50) NOT NULL DEFAULT 'INACTIVE' CHECK (length(status) BETWEEN 1 AND 50),
  pak_hash TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX unique_live_agent_cluster ON agents (name, cluster_name) WHERE deleted_at IS NULL;
CREATE INDEX idx_agents_pak_hash ON agents (pak_hash);
CREATE INDEX idx_agents_status ON agents (status);

CREATE TABLE deployment_objects (
  id TEXT NOT NULL UNIQUE DEFAULT (${UUID_SQL}),${TIMESTAMPS},
  sequence_id INTEGER PRIMARY KEY AUTOINCREMENT,
  stack_id TEXT NOT NULL REFERENCES stacks (id),
  yaml_content TEXT NOT NULL,
  yaml_checksum TEXT NOT NULL,
  submitted_at TEXT NOT NULL DEFAULT (${NOW_SQL}),
  ${bool('is_deletion_marker', 0)},
  generator_id TEXT NOT NULL REFERENCES generators (id)
);
-- Latest object of a stack: walk this index backwards from the newest sequence_id.
CREATE INDEX idx_deployment_objects_stack_sequence ON deployment_objects (stack_id, sequence_id);
CREATE INDEX idx_deployment_objects_generator_id ON deployment_objects (generator_id);
CREATE INDEX idx_deployment_objects_yaml_checksum ON deployment_objects (yaml_checksum);

CREATE TABLE agent_events (
  ${ID},${TIMESTAMPS},
  agent_id TEXT NOT NULL REFERENCES agents (id),
  deployment_object_id TEXT NOT NULL REFERENCES deployment_objects (id),
  ${varchar('event_type', 50, 1)},
  ${varchar('status', 10, 1)},
  message TEXT
);
-- "Has this agent reported SUCCESS for this object?" (incremental target state) is one probe.
CREATE INDEX idx_agent_events_agent_object_status ON agent_events (agent_id, deployment_object_id, status);
CREATE INDEX idx_agent_events_deployment_object_id ON agent_events (deployment_object_id);
CREATE INDEX idx_agent_events_created_at ON agent_events (created_at);

CREATE TABLE agent_targets (
  ${ID},
  agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  stack_id TEXT NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
  CONSTRAINT unique_agent_stack UNIQUE (agent_id, stack_id)
);
CREATE INDEX idx_agent_targets_stack_id ON agent_targets (stack_id);

CREATE TABLE stack_labels (
  ${ID},
  stack_id TEXT NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
  ${varchar('label', 64, 1)},
  CONSTRAINT unique_stack_label UNIQUE (stack_id, label)
);
CREATE INDEX idx_stack_labels_label ON stack_labels (label, stack_id);

CREATE TABLE stack_annotations (
  ${ID},
  stack_id TEXT NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
  ${varchar('key', 64, 1)},
  ${varchar('value', 64, 1)},
  CONSTRAINT unique_stack_annotation_key UNIQUE (stack_id, key)
);
CREATE INDEX idx_stack_annotations_key_value ON stack_annotations (key, value, stack_id);

CREATE TABLE agent_labels (
  ${ID},
  agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  ${varchar('label', 64, 1)},
  CONSTRAINT unique_agent_label UNIQUE (agent_id, label)
);
CREATE INDEX idx_agent_labels_label ON agent_labels (label);

CREATE TABLE agent_annotations (
  ${ID},
  agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  ${varchar('key', 64, 1)},
  ${varchar('value', 64, 1)},
  CONSTRAINT unique_agent_annotation_key UNIQUE (agent_id, key)
);
CREATE INDEX idx_agent_annotations_key_value ON agent_annotations (key, value);
`;

/**
 * updated_at: SQLite triggers cannot assign NEW, so an AFTER UPDATE trigger writes the column
 * again. The guard compares with 'now', which SQLite keeps fixed for one statement including its
 * trigger programs: the inner UPDATE sets exactly 'now', so with recursive_triggers on the
 * re-fired trigger finds nothing to do and the recursion stops after one level.
 */
function touchTrigger(name: string, table: string, key: string): string {
  return `
CREATE TRIGGER ${name} AFTER UPDATE ON ${table} FOR EACH ROW
WHEN NEW.updated_at IS NOT ${NOW_SQL}
BEGIN
  UPDATE ${table} SET updated_at = ${NOW_SQL} WHERE ${key} = NEW.${key};
END;`;
}

/** created_at never changes, whoever writes the file. */
function createdAtGuard(table: string): string {
  return `
CREATE TRIGGER protect_${table}_created_at BEFORE UPDATE OF created_at ON ${table} FOR EACH ROW
WHEN NEW.created_at IS NOT OLD.created_at
BEGIN
  SELECT RAISE(ABORT, '${table}.created_at cannot be changed');
END;`;
}

const OBJECT_CONTENT_COLUMNS = [
  'id', 'sequence_id', 'stack_id', 'yaml_content', 'yaml_checksum', 'submitted_at', 'is_deletion_marker', 'generator_id',
];

const TRIGGERS = `
${touchTrigger('update_generators_timestamp', 'generators', 'id')}
${touchTrigger('update_stack_timestamp', 'stacks', 'id')}
${touchTrigger('update_agent_timestamp', 'agents', 'id')}
${touchTrigger('update_deployment_object_timestamp', 'deployment_objects', 'sequence_id')}
${touchTrigger('update_agent_event_timestamp', 'agent_events', 'id')}
${['generators', 'stacks', 'agents', 'deployment_objects', 'agent_events'].map(createdAtGuard).join('\n')}

-- Deployment objects are immutable. Allowed: setting deleted_at once (soft delete), any update of a
-- row that is and stays a deletion marker, and the updated_at write of the timestamp trigger.
-- Columns are compared (not every UPDATE refused), or the timestamp write after a soft delete fails.
CREATE TRIGGER prevent_deployment_object_update BEFORE UPDATE ON deployment_objects FOR EACH ROW
WHEN NOT (OLD.is_deletion_marker = 1 AND NEW.is_deletion_marker = 1)
  AND (${OBJECT_CONTENT_COLUMNS.map((c) => `NEW.${c} IS NOT OLD.${c}`).join(' OR ')}
       OR (NEW.deleted_at IS NOT OLD.deleted_at AND OLD.deleted_at IS NOT NULL))
BEGIN
  SELECT RAISE(ABORT, 'deployment objects are immutable: only soft deletion (setting deleted_at) and updates of deletion markers are allowed');
END;

-- Stack soft delete: soft-delete its live objects, then append one deletion marker (content '',
-- checksum md5(''), submitted at the deletion time, the stack's generator, the next sequence_id,
-- a fresh UUID from the column default).
CREATE TRIGGER trigger_handle_stack_soft_delete AFTER UPDATE OF deleted_at ON stacks FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
BEGIN
  UPDATE deployment_objects SET deleted_at = ${isoSql('NEW.deleted_at')}
    WHERE stack_id = NEW.id AND deleted_at IS NULL;
  INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum, submitted_at, is_deletion_marker, generator_id)
    VALUES (NEW.id, '', '${MD5_EMPTY}', ${isoSql('NEW.deleted_at')}, 1, NEW.generator_id);
END;

-- Stack hard delete: children first (the sqlite3 shell runs with foreign keys off, so ON DELETE
-- CASCADE alone would leave orphans there; with them on, parents would be refused).
CREATE TRIGGER trigger_stack_hard_delete BEFORE DELETE ON stacks FOR EACH ROW
BEGIN
  DELETE FROM agent_targets WHERE stack_id = OLD.id;
  DELETE FROM stack_labels WHERE stack_id = OLD.id;
  DELETE FROM stack_annotations WHERE stack_id = OLD.id;
  DELETE FROM agent_events WHERE deployment_object_id IN (SELECT id FROM deployment_objects WHERE stack_id = OLD.id);
  DELETE FROM deployment_objects WHERE stack_id = OLD.id;
END;

-- The data model's second BEFORE DELETE trigger on stacks (objects and their events); it repeats
-- part of the one above, which is harmless and keeps every named trigger of the model present.
CREATE TRIGGER trigger_hard_delete_deployment_objects BEFORE DELETE ON stacks FOR EACH ROW
BEGIN
  DELETE FROM agent_events WHERE deployment_object_id IN (SELECT id FROM deployment_objects WHERE stack_id = OLD.id);
  DELETE FROM deployment_objects WHERE stack_id = OLD.id;
END;

-- Generator soft delete: its stacks (whose own trigger soft-deletes their objects and appends the
-- markers), then every remaining live object carrying its generator_id (markers included).
CREATE TRIGGER cascade_soft_delete_generators AFTER UPDATE OF deleted_at ON generators FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
BEGIN
  UPDATE stacks SET deleted_at = NEW.deleted_at WHERE generator_id = NEW.id AND deleted_at IS NULL;
  UPDATE deployment_objects SET deleted_at = ${isoSql('NEW.deleted_at')}
    WHERE generator_id = NEW.id AND deleted_at IS NULL;
END;

-- Generator hard delete: its stacks (cascading through the stack trigger), then any other object
-- it wrote and those objects' events.
CREATE TRIGGER trigger_generator_hard_delete BEFORE DELETE ON generators FOR EACH ROW
BEGIN
  DELETE FROM stacks WHERE generator_id = OLD.id;
  DELETE FROM agent_events WHERE deployment_object_id IN (SELECT id FROM deployment_objects WHERE generator_id = OLD.id);
  DELETE FROM deployment_objects WHERE generator_id = OLD.id;
END;

-- Agent soft delete: its events.
CREATE TRIGGER cascade_soft_delete_agents AFTER UPDATE OF deleted_at ON agents FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
BEGIN
  UPDATE agent_events SET deleted_at = ${isoSql('NEW.deleted_at')} WHERE agent_id = NEW.id AND deleted_at IS NULL;
END;

-- Agent hard delete: labels, annotations, targets and events first.
CREATE TRIGGER trigger_agent_hard_delete BEFORE DELETE ON agents FOR EACH ROW
BEGIN
  DELETE FROM agent_labels WHERE agent_id = OLD.id;
  DELETE FROM agent_annotations WHERE agent_id = OLD.id;
  DELETE FROM agent_targets WHERE agent_id = OLD.id;
  DELETE FROM agent_events WHERE agent_id = OLD.id;
END;
`;

export const brokkrModel: Migration = {
  version: 1,
  name: 'brokkr-model',
  sql: TABLES + TRIGGERS,
};
