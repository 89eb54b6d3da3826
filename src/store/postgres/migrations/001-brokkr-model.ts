/** Migration 1 (PostgreSQL): the ten tables of the brokkr data model with their constraints, indexes and PL/pgSQL trigger cascades. */
import type { Migration } from '../../sqlite/migrations/migration.js';

/*
 * Types are the data model's own: UUID ids from gen_random_uuid() (built in since PostgreSQL 13),
 * TIMESTAMPTZ, BOOLEAN, VARCHAR(n), and sequence_id BIGSERIAL (never reused: a sequence only moves
 * forward). Names of tables, indexes and triggers match the SQLite migration, so both schemas read alike.
 * The extra CHECKs (non-empty names, labels, values) are the SQLite schema's, so both refuse the same rows.
 * Live-name uniqueness is a partial unique index WHERE deleted_at IS NULL: a name is reusable after a soft delete.
 */
const ID = 'id UUID PRIMARY KEY DEFAULT gen_random_uuid()';
const TIMESTAMPS = `
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  deleted_at TIMESTAMPTZ`;
const varchar = (column: string, n: number, min = 1): string => `${column} VARCHAR(${n}) NOT NULL CHECK (length(${column}) >= ${min})`;

const TABLES = `
CREATE TABLE generators (
  ${ID},${TIMESTAMPS},
  ${varchar('name', 255)},
  description TEXT,
  api_key_hash TEXT,
  last_active_at TIMESTAMPTZ,
  is_active BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE UNIQUE INDEX generators_live_name ON generators (name) WHERE deleted_at IS NULL;
CREATE INDEX idx_generators_api_key_hash ON generators (api_key_hash);

CREATE TABLE stacks (
  ${ID},${TIMESTAMPS},
  ${varchar('name', 255)},
  description TEXT,
  generator_id UUID NOT NULL REFERENCES generators (id)
);
CREATE UNIQUE INDEX unique_live_stack_name ON stacks (name) WHERE deleted_at IS NULL;
CREATE INDEX idx_stacks_generator_id ON stacks (generator_id);

CREATE TABLE agents (
  ${ID},${TIMESTAMPS},
  ${varchar('name', 255)},
  ${varchar('cluster_name', 255)},
  last_heartbeat TIMESTAMPTZ,
  status VARCHAR(50) NOT NULL DEFAULT 'INACTIVE' CHECK (length(status) >= 1),
  pak_hash TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX unique_live_agent_cluster ON agents (name, cluster_name) WHERE deleted_at IS NULL;
CREATE INDEX idx_agents_pak_hash ON agents (pak_hash);
CREATE INDEX idx_agents_status ON agents (status);

CREATE TABLE deployment_objects (
  ${ID},${TIMESTAMPS},
  sequence_id BIGSERIAL NOT NULL UNIQUE,
  stack_id UUID NOT NULL REFERENCES stacks (id),
  yaml_content TEXT NOT NULL,
  yaml_checksum TEXT NOT NULL,
  submitted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  is_deletion_marker BOOLEAN NOT NULL DEFAULT FALSE,
  generator_id UUID NOT NULL REFERENCES generators (id)
);
-- Latest object of a stack: walk this index backwards from the newest sequence_id.
CREATE INDEX idx_deployment_objects_stack_sequence ON deployment_objects (stack_id, sequence_id);
CREATE INDEX idx_deployment_objects_generator_id ON deployment_objects (generator_id);
CREATE INDEX idx_deployment_objects_yaml_checksum ON deployment_objects (yaml_checksum);

CREATE TABLE agent_events (
  ${ID},${TIMESTAMPS},
  agent_id UUID NOT NULL REFERENCES agents (id),
  deployment_object_id UUID NOT NULL REFERENCES deployment_objects (id),
  ${varchar('event_type', 50)},
  ${varchar('status', 10)},
  message TEXT
);
-- "Has this agent reported SUCCESS for this object?" (incremental target state) is one probe.
CREATE INDEX idx_agent_events_agent_object_status ON agent_events (agent_id, deployment_object_id, status);
CREATE INDEX idx_agent_events_deployment_object_id ON agent_events (deployment_object_id);
CREATE INDEX idx_agent_events_created_at ON agent_events (created_at);

CREATE TABLE agent_targets (
  ${ID},
  agent_id UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  stack_id UUID NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
  CONSTRAINT unique_agent_stack UNIQUE (agent_id, stack_id)
);
CREATE INDEX idx_agent_targets_stack_id ON agent_targets (stack_id);

CREATE TABLE stack_labels (
  ${ID},
  stack_id UUID NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
  ${varchar('label', 64)},
  CONSTRAINT unique_stack_label UNIQUE (stack_id, label)
);
CREATE INDEX idx_stack_labels_label ON stack_labels (label, stack_id);

CREATE TABLE stack_annotations (
  ${ID},
  stack_id UUID NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
  ${varchar('key', 64)},
  ${varchar('value', 64)},
  CONSTRAINT unique_stack_annotation_key UNIQUE (stack_id, key)
);
CREATE INDEX idx_stack_annotations_key_value ON stack_annotations (key, value, stack_id);

CREATE TABLE agent_labels (
  ${ID},
  agent_id UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  ${varchar('label', 64)},
  CONSTRAINT unique_agent_label UNIQUE (agent_id, label)
);
CREATE INDEX idx_agent_labels_label ON agent_labels (label);

CREATE TABLE agent_annotations (
  ${ID},
  agent_id UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  ${varchar('key', 64)},
  ${varchar('value', 64)},
  CONSTRAINT unique_agent_annotation_key UNIQUE (agent_id, key)
);
CREATE INDEX idx_agent_annotations_key_value ON agent_annotations (key, value);
`;

const TIMESTAMPED = ['generators', 'stacks', 'agents', 'deployment_objects', 'agent_events'] as const;
const TOUCH_TRIGGER: Record<(typeof TIMESTAMPED)[number], string> = {
  generators: 'update_generators_timestamp',
  stacks: 'update_stack_timestamp',
  agents: 'update_agent_timestamp',
  deployment_objects: 'update_deployment_object_timestamp',
  agent_events: 'update_agent_event_timestamp',
};

/*
 * BEFORE UPDATE triggers of one table fire in name order: prevent_… (immutability), then
 * protect_… (created_at), then update_… (updated_at). Only the last one changes NEW.
 */
const FUNCTIONS = `
CREATE FUNCTION update_timestamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END $$;

-- created_at never changes, whoever writes the database.
CREATE FUNCTION protect_created_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.created_at IS DISTINCT FROM OLD.created_at THEN
    RAISE EXCEPTION '%.created_at cannot be changed', TG_TABLE_NAME USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;

-- Deployment objects are immutable. Allowed: setting deleted_at once (soft delete), any update of a
-- row that is and stays a deletion marker, and the timestamp columns the other triggers manage.
CREATE FUNCTION prevent_deployment_object_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.is_deletion_marker AND NEW.is_deletion_marker THEN
    RETURN NEW;
  END IF;
  IF NEW.id IS DISTINCT FROM OLD.id OR NEW.sequence_id IS DISTINCT FROM OLD.sequence_id
     OR NEW.stack_id IS DISTINCT FROM OLD.stack_id OR NEW.yaml_content IS DISTINCT FROM OLD.yaml_content
     OR NEW.yaml_checksum IS DISTINCT FROM OLD.yaml_checksum OR NEW.submitted_at IS DISTINCT FROM OLD.submitted_at
     OR NEW.is_deletion_marker IS DISTINCT FROM OLD.is_deletion_marker OR NEW.generator_id IS DISTINCT FROM OLD.generator_id
     OR (NEW.deleted_at IS DISTINCT FROM OLD.deleted_at AND OLD.deleted_at IS NOT NULL) THEN
    RAISE EXCEPTION 'deployment objects are immutable: only soft deletion (setting deleted_at) and updates of deletion markers are allowed'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;

-- Stack soft delete: soft-delete its live objects, then append one deletion marker (content '',
-- checksum md5(''), submitted at the deletion time, the stack's generator, the next sequence_id).
CREATE FUNCTION handle_stack_soft_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE deployment_objects SET deleted_at = NEW.deleted_at WHERE stack_id = NEW.id AND deleted_at IS NULL;
  INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum, submitted_at, is_deletion_marker, generator_id)
    VALUES (NEW.id, '', md5(''), NEW.deleted_at, TRUE, NEW.generator_id);
  RETURN NULL;
END $$;

-- Stack hard delete: children first, so the foreign keys never refuse the parent's removal.
CREATE FUNCTION handle_stack_hard_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM agent_targets WHERE stack_id = OLD.id;
  DELETE FROM stack_labels WHERE stack_id = OLD.id;
  DELETE FROM stack_annotations WHERE stack_id = OLD.id;
  DELETE FROM agent_events WHERE deployment_object_id IN (SELECT id FROM deployment_objects WHERE stack_id = OLD.id);
  DELETE FROM deployment_objects WHERE stack_id = OLD.id;
  RETURN OLD;
END $$;

-- The data model's second BEFORE DELETE trigger on stacks (objects and their events); it repeats
-- part of the one above, which is harmless and keeps every named trigger of the model present.
CREATE FUNCTION hard_delete_deployment_objects_on_stack_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM agent_events WHERE deployment_object_id IN (SELECT id FROM deployment_objects WHERE stack_id = OLD.id);
  DELETE FROM deployment_objects WHERE stack_id = OLD.id;
  RETURN OLD;
END $$;

-- Generator soft delete: its stacks (whose own trigger soft-deletes their objects and appends the
-- markers), then every remaining live object carrying its generator_id (markers included).
CREATE FUNCTION cascade_soft_delete_generators() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE stacks SET deleted_at = NEW.deleted_at WHERE generator_id = NEW.id AND deleted_at IS NULL;
  UPDATE deployment_objects SET deleted_at = NEW.deleted_at WHERE generator_id = NEW.id AND deleted_at IS NULL;
  RETURN NULL;
END $$;

-- Generator hard delete: its stacks (cascading through the stack trigger), then any other object
-- it wrote and those objects' events.
CREATE FUNCTION handle_generator_hard_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM stacks WHERE generator_id = OLD.id;
  DELETE FROM agent_events WHERE deployment_object_id IN (SELECT id FROM deployment_objects WHERE generator_id = OLD.id);
  DELETE FROM deployment_objects WHERE generator_id = OLD.id;
  RETURN OLD;
END $$;

-- Agent soft delete: its events.
CREATE FUNCTION cascade_soft_delete_agents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE agent_events SET deleted_at = NEW.deleted_at WHERE agent_id = NEW.id AND deleted_at IS NULL;
  RETURN NULL;
END $$;

-- Agent hard delete: labels, annotations, targets and events first.
CREATE FUNCTION handle_agent_hard_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM agent_labels WHERE agent_id = OLD.id;
  DELETE FROM agent_annotations WHERE agent_id = OLD.id;
  DELETE FROM agent_targets WHERE agent_id = OLD.id;
  DELETE FROM agent_events WHERE agent_id = OLD.id;
  RETURN OLD;
END $$;
`;

const SOFT_DELETED = 'WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)';

const TRIGGERS = `
${TIMESTAMPED.map(
  (t) => `CREATE TRIGGER ${TOUCH_TRIGGER[t]} BEFORE UPDATE ON ${t} FOR EACH ROW EXECUTE FUNCTION update_timestamp();
CREATE TRIGGER protect_${t}_created_at BEFORE UPDATE ON ${t} FOR EACH ROW EXECUTE FUNCTION protect_created_at();`,
).join('\n')}
CREATE TRIGGER prevent_deployment_object_update BEFORE UPDATE ON deployment_objects
  FOR EACH ROW EXECUTE FUNCTION prevent_deployment_object_changes();
CREATE TRIGGER trigger_handle_stack_soft_delete AFTER UPDATE OF deleted_at ON stacks
  FOR EACH ROW ${SOFT_DELETED} EXECUTE FUNCTION handle_stack_soft_delete();
CREATE TRIGGER trigger_stack_hard_delete BEFORE DELETE ON stacks FOR EACH ROW EXECUTE FUNCTION handle_stack_hard_delete();
CREATE TRIGGER trigger_hard_delete_deployment_objects BEFORE DELETE ON stacks
  FOR EACH ROW EXECUTE FUNCTION hard_delete_deployment_objects_on_stack_delete();
CREATE TRIGGER cascade_soft_delete_generators AFTER UPDATE OF deleted_at ON generators
  FOR EACH ROW ${SOFT_DELETED} EXECUTE FUNCTION cascade_soft_delete_generators();
CREATE TRIGGER trigger_generator_hard_delete BEFORE DELETE ON generators FOR EACH ROW EXECUTE FUNCTION handle_generator_hard_delete();
CREATE TRIGGER cascade_soft_delete_agents AFTER UPDATE OF deleted_at ON agents
  FOR EACH ROW ${SOFT_DELETED} EXECUTE FUNCTION cascade_soft_delete_agents();
CREATE TRIGGER trigger_agent_hard_delete BEFORE DELETE ON agents FOR EACH ROW EXECUTE FUNCTION handle_agent_hard_delete();
`;

export const brokkrModel: Migration = { version: 1, name: 'brokkr-model', sql: TABLES + FUNCTIONS + TRIGGERS };
