/** Migration 4 (PostgreSQL): the repositories a daemon syncs, each tied to its generator row. */
import type { Migration } from '../../sqlite/migrations/migration.js';

/* Same meaning as SQLite's migration 4: credentials are never stored, only where they come from. */
const SQL = `
CREATE TABLE repositories (
  generator_id UUID PRIMARY KEY REFERENCES generators (id) ON DELETE CASCADE,
  name VARCHAR(64) NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
  url TEXT NOT NULL,
  branch TEXT,
  root TEXT NOT NULL DEFAULT '',
  interval_seconds DOUBLE PRECISION,
  webhook_secret TEXT,
  auth_username_env TEXT,
  auth_password_env TEXT,
  auth_ssh_key_file TEXT,
  origin TEXT NOT NULL CHECK (origin IN ('config', 'api')),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE FUNCTION cleanup_generator_repository() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM repositories WHERE generator_id = OLD.id;
  RETURN OLD;
END $$;
CREATE TRIGGER cleanup_generator_repository BEFORE DELETE ON generators
  FOR EACH ROW EXECUTE FUNCTION cleanup_generator_repository();
`;

export const repositories: Migration = { version: 4, name: 'repositories', sql: SQL };
