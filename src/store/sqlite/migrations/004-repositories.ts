/** Migration 4: the repositories a daemon syncs (many per daemon), each tied to its generator row. */
import { NOW_SQL } from '../sql-fragments.js';
import type { Migration } from './migration.js';

/*
 * One row per repository: what the operator asked for (from the config file, the API or the
 * command line), as opposed to sync_state, which records what syncing observed. Credentials are
 * never stored: only the NAMES of the environment variables that hold them, or the path of an
 * SSH key file. A webhook secret has to be kept to verify signatures; it is never returned.
 */
const SQL = `
CREATE TABLE repositories (
  generator_id TEXT PRIMARY KEY NOT NULL REFERENCES generators (id) ON DELETE CASCADE,
  name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
  url TEXT NOT NULL,
  branch TEXT,
  root TEXT NOT NULL DEFAULT '',
  interval_seconds REAL,
  webhook_secret TEXT,
  auth_username_env TEXT,
  auth_password_env TEXT,
  auth_ssh_key_file TEXT,
  origin TEXT NOT NULL CHECK (origin IN ('config', 'api')),
  created_at TEXT NOT NULL DEFAULT (${NOW_SQL}),
  updated_at TEXT NOT NULL DEFAULT (${NOW_SQL})
);

CREATE TRIGGER cleanup_generator_repository BEFORE DELETE ON generators FOR EACH ROW
BEGIN
  DELETE FROM repositories WHERE generator_id = OLD.id;
END;
`;

export const repositories: Migration = { version: 4, name: 'repositories', sql: SQL };
