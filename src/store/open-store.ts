/** Entry points to the database (a SQLite file or a postgres:// URL): open a migrated Store, migrate, back up, check integrity. */
import type { Store } from './store.js';
import { isPostgresUrl } from './db-target.js';
import type { MigrationRun } from './migration-result.js';
import {
  checkPostgresDatabase,
  migratePostgresDatabase,
  openPostgresStore,
  postgresBackupUnsupported,
} from './postgres/open-postgres.js';
import { openConnection, SqliteDb, type ConnectionOptions } from './sqlite/connection.js';
import { LATEST_VERSION, migrate } from './sqlite/migrator.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export { LATEST_VERSION, isPostgresUrl };
export type { MigrationRun, MigrationResult } from './migration-result.js';

/** SQLite connection options; a PostgreSQL URL ignores them. */
export type OpenStoreOptions = ConnectionOptions;

/**
 * Open and migrate to the latest schema: a postgres:// or postgresql:// URL opens PostgreSQL
 * (unreachable: StoreUnavailableError); anything else is a SQLite file, created with its directory when missing.
 */
export async function openStore(path: string, opts: OpenStoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(path)) return openPostgresStore(path);
  const raw = openConnection(path, opts);
  const run = migrate(raw);
  if (run.error) {
    raw.close();
    throw new Error(`cannot open database ${path}: ${run.error}`);
  }
  return new SqliteStore(new SqliteDb(raw));
}

/** Apply pending migrations and return one result per migration (errors are reported, not thrown). */
export async function migrateDatabase(path: string, opts: { target?: number } = {}): Promise<MigrationRun> {
  if (isPostgresUrl(path)) return migratePostgresDatabase(path, opts);
  const raw = openConnection(path);
  try {
    return migrate(raw, opts);
  } finally {
    raw.close();
  }
}

/** Copy a live database to destPath with SQLite's online backup API (consistent while others write); PostgreSQL: use pg_dump. */
export async function backupDatabase(dbPath: string, destPath: string): Promise<{ pages: number }> {
  if (isPostgresUrl(dbPath)) throw postgresBackupUnsupported();
  const raw = openConnection(dbPath, { readonly: true });
  try {
    const result = await raw.backup(destPath);
    return { pages: result.totalPages };
  } finally {
    raw.close();
  }
}

export interface DatabaseCheck {
  ok: boolean;
  /** Schema version found, 0 for a file without migrations. */
  version: number;
  /** Human-readable problems: integrity_check lines, foreign key violations, a missing or old schema. */
  problems: string[];
}

/** PRAGMA integrity_check + foreign_key_check, and whether the schema is current; PostgreSQL: connectivity, version, triggers. */
export async function checkDatabase(dbPath: string): Promise<DatabaseCheck> {
  if (isPostgresUrl(dbPath)) return checkPostgresDatabase(dbPath);
  const raw = openConnection(dbPath, { readonly: true });
  try {
    const problems: string[] = [];
    const integrity = raw.pragma('integrity_check') as { integrity_check: string }[];
    for (const row of integrity) if (row.integrity_check !== 'ok') problems.push(`integrity: ${row.integrity_check}`);
    const fks = raw.pragma('foreign_key_check') as { table: string; rowid: number; parent: string; fkid: number }[];
    for (const fk of fks) problems.push(`foreign key: ${fk.table} row ${fk.rowid} references a missing ${fk.parent} row`);
    const hasTable = raw.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    const version = hasTable
      ? ((raw.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0)
      : 0;
    if (version < LATEST_VERSION) problems.push(`schema version ${version} is behind ${LATEST_VERSION}: run brokkr-sync db migrate`);
    return { ok: problems.length === 0, version, problems };
  } finally {
    raw.close();
  }
}
