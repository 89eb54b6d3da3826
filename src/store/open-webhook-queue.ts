/**
 * The webhook delivery queue on a connection of its own, for the delivery process: a second
 * better-sqlite3 connection to the daemon's file (WAL; claims and outcomes wait for the API's write
 * lock by trying again every millisecond, sqlite/eager-lock.ts; it takes over checkpointing), or a
 * small PostgreSQL pool of its own sessions (WEBHOOK_SESSION). The daemon has migrated the database
 * already; this only connects. Engines are imported on demand so the process loads one driver, not
 * the whole store.
 */
import { isPostgresUrl } from './db-target.js';
import type { WebhookStore } from './webhook-store.js';

/**
 * The delivery process's PostgreSQL sessions: named in pg_stat_activity, and
 *
 * - committing without waiting for the WAL to reach the disk (`synchronous_commit = off`; the WAL
 *   writer flushes it within 3 × wal_writer_delay), so claims and outcomes, a hundred commits a
 *   second at 1,000 deliveries a second, do not each ask for a flush the API's commits then queue
 *   behind. A crash may forget the last of them (well under a second); each stays all or nothing,
 *   so a forgotten claim is a delivery due again and a forgotten outcome one sent again —
 *   at-least-once, as a lost lease already is (receivers deduplicate by delivery id). A queued
 *   event's collection stays whole: its deliveries and its leaving the queue commit together or not
 *   at all.
 * - never reading a table whole where an index leads to the rows (`enable_seqscan = off`). Every
 *   statement of theirs finds its rows by key or through an index, and their plans are made once
 *   per session (prepared statements, PL/pgSQL): a plan made while a table was young (a new
 *   database, a few hundred rows, not yet analyzed) read it whole, and kept reading it whole as it
 *   grew by a thousand rows a second — collecting a batch of events scanned every agent event ever
 *   written (BENCHMARKS F12, tenth pass). A table no index serves (the agents, for the presence
 *   watch) is still read whole.
 */
export const WEBHOOK_SESSION = { applicationName: 'brokkr-sync-webhooks', options: '-c synchronous_commit=off -c enable_seqscan=off' } as const;

export interface WebhookQueue {
  hooks: WebhookStore;
  close(): Promise<void>;
}

/** PostgreSQL connections of the delivery process: one claim or flush at a time, plus presence and pruning. */
const PG_POOL_SIZE = 3;

/**
 * WAL pages after which the delivery process's SQLite connection checkpoints (the API's: SQLite's default
 * 1,000). Whichever connection's commit crosses the threshold copies the WAL into the database file
 * (and syncs it) before its call returns; with deliveries flowing, the delivery process commits claims and
 * outcomes several times a second and so reaches its lower threshold first, and the API's event
 * loop is left out of that work (BENCHMARKS F12). A checkpoint never holds the write lock.
 */
export const DELIVERY_WAL_AUTOCHECKPOINT = 200;

export async function openWebhookQueue(db: string): Promise<WebhookQueue> {
  if (isPostgresUrl(db)) {
    const [{ PgDb }, { PostgresWebhooks }] = await Promise.all([import('./postgres/pg-db.js'), import('./postgres/webhooks.js')]);
    const pg = PgDb.open(db, PG_POOL_SIZE, WEBHOOK_SESSION);
    return { hooks: new PostgresWebhooks(pg), close: () => pg.close() };
  }
  if (db === ':memory:' || db === '') throw new Error('webhook deliveries need a database file or a postgres:// URL: an in-memory SQLite database cannot be shared with the delivery process');
  const [{ openConnection }, { EagerSqliteDb }, { SqliteWebhooks }] = await Promise.all([import('./sqlite/connection.js'), import('./sqlite/eager-lock.js'), import('./sqlite/webhooks.js')]);
  const sqlite = new EagerSqliteDb(openConnection(db, { busyTimeoutMs: 0 }));
  sqlite.raw.pragma(`wal_autocheckpoint = ${DELIVERY_WAL_AUTOCHECKPOINT}`);
  return { hooks: new SqliteWebhooks(sqlite), close: async () => sqlite.close() };
}
