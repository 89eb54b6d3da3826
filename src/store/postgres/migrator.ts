/** Applies the numbered PostgreSQL migrations, each in its own transaction, under an advisory lock, and reports a result per migration. */
import type pg from 'pg';
import { MigrationLog, newerThanBuild, type MigrationRun } from '../migration-result.js';
import { PG_MIGRATIONS, type Migration } from './migrations/index.js';

/** The newest schema version this build knows (the same number as SQLite's). */
export const PG_LATEST_VERSION = Math.max(...PG_MIGRATIONS.map((m) => m.version));

/** A fixed key for pg_advisory_lock: replicas starting together take turns, so each migration runs once. */
const MIGRATION_LOCK_KEY = 7_362_815_204;

const BOOTSTRAP = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

/** Highest applied version, 0 when the database has no schema_migrations table. */
export async function currentPgVersion(client: pg.ClientBase | pg.Pool): Promise<number> {
  const exists = await client.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (!exists.rows[0]?.t) return 0;
  const row = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  return row.rows[0]?.v ?? 0;
}

/**
 * Apply every migration not yet recorded (up to `target`, default all). Results are returned, not
 * thrown: a failed migration rolls back alone and the ones after it are reported NotExecuted.
 * The session advisory lock serialises concurrent migrators (the second waits, then finds every
 * migration AlreadyApplied); it is released at the end or when the connection closes.
 */
export async function migratePostgres(
  client: pg.ClientBase,
  opts: { target?: number; migrations?: readonly Migration[] } = {},
): Promise<MigrationRun> {
  const migrations = [...(opts.migrations ?? PG_MIGRATIONS)].sort((a, b) => a.version - b.version);
  const target = opts.target ?? Infinity;
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    await client.query(BOOTSTRAP);
    const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const tooNew = newerThanBuild(applied, migrations);
    if (tooNew) return tooNew;
    const log = new MigrationLog();
    for (const m of migrations) {
      if (m.version > target) break;
      if (!log.mayRun(m)) continue;
      if (applied.has(m.version)) {
        log.applied(m, false);
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
        log.applied(m, true);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        log.failed(m, err);
      }
    }
    return log.run(await currentPgVersion(client));
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
  }
}
