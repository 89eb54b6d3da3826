/** Applies the numbered migrations in order, each in its own transaction, and reports a result per migration. */
import type { Database as Db } from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations/index.js';
import { MigrationLog, newerThanBuild, type MigrationRun } from '../migration-result.js';
import { NOW_SQL } from './sql-fragments.js';

export type { MigrationResult, MigrationRun, MigrationStatus } from '../migration-result.js';

/** The newest schema version this build knows. */
export const LATEST_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

const BOOTSTRAP = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL DEFAULT (${NOW_SQL})
)`;

/** Applied versions (empty for a fresh file). */
export function appliedVersions(db: Db): Set<number> {
  db.exec(BOOTSTRAP);
  const rows = db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[];
  return new Set(rows.map((r) => r.version));
}

export function currentVersion(db: Db): number {
  const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

/**
 * Apply every migration not yet recorded (up to `target`, default all). Results are returned,
 * not thrown (as kysely's migrator does): a failed migration rolls back alone, and the ones after
 * it are reported NotExecuted. Each migration re-checks under the write lock, so two processes
 * migrating one file at once apply each migration exactly once.
 */
export function migrate(db: Db, opts: { target?: number; migrations?: readonly Migration[] } = {}): MigrationRun {
  const migrations = [...(opts.migrations ?? MIGRATIONS)].sort((a, b) => a.version - b.version);
  const target = opts.target ?? Infinity;
  const tooNew = newerThanBuild(appliedVersions(db), migrations);
  if (tooNew) return tooNew;
  const log = new MigrationLog();
  for (const m of migrations) {
    if (m.version > target) break;
    if (!log.mayRun(m)) continue;
    try {
      const ran = db
        .transaction(() => {
          const done = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version);
          if (done) return false;
          db.exec(m.sql);
          db.prepare(`INSERT INTO schema_migrations (version, name) VALUES (?, ?)`).run(m.version, m.name);
          return true;
        })
        .immediate();
      log.applied(m, ran);
    } catch (err) {
      log.failed(m, err);
    }
  }
  return log.run(currentVersion(db));
}
