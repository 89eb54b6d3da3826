/** Migration 2 (PostgreSQL): the product's own tables (sync cursor, commit provenance, sync errors, stack paths, admin PAK). */
import type { Migration } from '../../sqlite/migrations/migration.js';

/*
 * As in SQLite: stacks only gains a nullable `path`; the new tables hang off generators and
 * deployment_objects, and their cleanup on hard delete is a trigger too, for every client.
 */
const SQL = `
ALTER TABLE stacks ADD COLUMN path TEXT;

-- One row per synced repository (= generator): where it syncs from and how far it got.
CREATE TABLE sync_state (
  generator_id UUID PRIMARY KEY REFERENCES generators (id) ON DELETE CASCADE,
  repo TEXT NOT NULL,
  branch TEXT NOT NULL,
  root TEXT NOT NULL DEFAULT '',
  cursor_commit TEXT,
  cursor_committed_at TIMESTAMPTZ,
  last_sync_at TIMESTAMPTZ,
  last_error TEXT
);

-- The commit each deployment object (deletion markers included) came from.
CREATE TABLE object_provenance (
  deployment_object_id UUID PRIMARY KEY REFERENCES deployment_objects (id) ON DELETE CASCADE,
  commit_sha TEXT NOT NULL,
  author_name TEXT NOT NULL,
  author_email TEXT NOT NULL,
  subject TEXT NOT NULL,
  committed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_object_provenance_commit_sha ON object_provenance (commit_sha);

-- Problems with one stack at one commit; replaced per stack path on every commit touching it.
CREATE TABLE sync_errors (
  id BIGSERIAL PRIMARY KEY,
  generator_id UUID NOT NULL REFERENCES generators (id) ON DELETE CASCADE,
  stack_path TEXT NOT NULL,
  stack_name TEXT,
  commit_sha TEXT NOT NULL,
  file TEXT,
  line INTEGER,
  message TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_sync_errors_generator_path ON sync_errors (generator_id, stack_path);

-- Hashes of admin PAKs (normally one).
CREATE TABLE admin_paks (
  pak_hash TEXT PRIMARY KEY,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE FUNCTION cleanup_object_provenance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM object_provenance WHERE deployment_object_id = OLD.id;
  RETURN OLD;
END $$;
CREATE TRIGGER cleanup_object_provenance BEFORE DELETE ON deployment_objects
  FOR EACH ROW EXECUTE FUNCTION cleanup_object_provenance();

CREATE FUNCTION cleanup_generator_sync_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM sync_errors WHERE generator_id = OLD.id;
  DELETE FROM sync_state WHERE generator_id = OLD.id;
  RETURN OLD;
END $$;
CREATE TRIGGER cleanup_generator_sync_rows BEFORE DELETE ON generators
  FOR EACH ROW EXECUTE FUNCTION cleanup_generator_sync_rows();
`;

export const syncState: Migration = { version: 2, name: 'sync-state', sql: SQL };
