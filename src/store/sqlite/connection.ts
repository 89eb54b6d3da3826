/** Opening a SQLite file with the product's pragmas, a prepared-statement cache and the one transaction helper. */
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface ConnectionOptions {
  /** Milliseconds to wait for another writer's lock before failing with SQLITE_BUSY. */
  busyTimeoutMs?: number;
  readonly?: boolean;
}

/**
 * Open (creating the parent directory) and set the pragmas:
 * - journal_mode WAL: readers never block the writer, and the syncer and HTTP server share a file.
 * - synchronous NORMAL: in WAL mode a commit is durable across a crash of the process (the WAL is
 *   in the OS page cache); only an OS crash or power loss can lose the last transactions, and
 *   never corrupts the file. FULL would fsync every commit for that last bit of safety; the next
 *   sync re-creates anything lost because the cursor is committed together with the objects.
 * - foreign_keys ON: better-sqlite3 defaults to it, but say it rather than rely on a build flag.
 * - busy_timeout: wait for a concurrent writer (a second process, `db migrate`) instead of failing.
 * - cache_size 2 MiB (SQLite's own default): better-sqlite3 builds SQLite with a 16 MB page cache,
 *   which a first sync fills and the daemon then keeps resident for good (~14 MiB of its RSS; issue
 *   16, BENCHMARKS F5). Pages beyond it come from the operating system's file cache; polls answered
 *   from memory (304s) never read the database.
 */
export function openConnection(path: string, opts: ConnectionOptions = {}): Db {
  let db: Db | undefined;
  try {
    if (path !== ':memory:' && !opts.readonly) mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { readonly: opts.readonly ?? false, timeout: opts.busyTimeoutMs ?? 5000 });
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
    if (!opts.readonly) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('cache_size = -2000');
    return db;
  } catch (err) {
    db?.close();
    throw openFailure(path, err);
  }
}

/**
 * SQLite says only "unable to open database file": name the file, and the likely reason when the
 * file system can tell (a read-only mount, a directory without write permission), keeping the code.
 */
function openFailure(path: string, err: unknown): Error {
  const e = err as { message?: string; code?: string };
  let why = '';
  const target = existsSync(path) ? path : dirname(path);
  try {
    if (existsSync(target) && target !== path && !statSync(target).isDirectory()) why = ` (${target} is a file, not a directory)`;
    else if (existsSync(target)) accessSync(target, constants.W_OK);
  } catch (access) {
    const code = (access as NodeJS.ErrnoException).code;
    why = code === 'EROFS' ? ` (${target} is on a read-only file system)` : code === 'EACCES' ? ` (no write permission on ${target})` : '';
  }
  const failure = new Error(`cannot open database ${resolve(path)}: ${e?.message ?? String(err)}${why}`);
  if (typeof e?.code === 'string') (failure as Error & { code?: string }).code = e.code;
  return failure;
}

/** A connection with cached prepared statements and a write-transaction helper. */
export class SqliteDb {
  readonly #statements = new Map<string, Statement>();

  /**
   * One transaction function for every tx() (better-sqlite3's `transaction()` builds a wrapper and
   * its deferred/immediate/exclusive variants on each call: ~10 µs and garbage per write).
   */
  readonly #run: ReturnType<Db['transaction']>;

  constructor(readonly raw: Db) {
    this.#run = raw.transaction((fn: () => unknown) => fn());
  }

  /** A prepared statement, compiled once per distinct SQL text. */
  stmt<R = unknown>(sql: string): Statement<unknown[], R> {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.raw.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement as Statement<unknown[], R>;
  }

  /**
   * Run fn in one transaction (BEGIN IMMEDIATE: take the write lock up front, so a reader that
   * later writes cannot deadlock with another writer in WAL mode). Nested calls become savepoints.
   * Anything thrown rolls the whole transaction back.
   */
  tx<T>(fn: () => T): T {
    return this.#run.immediate(fn) as T;
  }

  /**
   * tx(fn) for the daemon's event loop: better-sqlite3 waits for another connection's write lock
   * synchronously (SQLite's busy handler sleeps in steps of up to 100 ms), stalling every request
   * meanwhile, and the lock may be held by the webhook delivery process, which runs at a lower
   * priority. Here BEGIN asks for the lock without waiting and, while it is held elsewhere, asks
   * again a millisecond later on a timer, the event loop serving in between; after the connection's
   * busy timeout it fails with SQLITE_BUSY as tx(fn) would. Once the lock is taken, fn runs as in tx.
   */
  async txWhenFree<T>(fn: () => T): Promise<T> {
    if (this.raw.inTransaction) return this.tx(fn);
    const busyMs = Number(this.raw.pragma('busy_timeout', { simple: true }));
    const since = Date.now();
    for (;;) {
      let began = false;
      this.stmt('PRAGMA busy_timeout = 0').get();
      try {
        return this.tx(() => {
          began = true;
          this.stmt(`PRAGMA busy_timeout = ${busyMs}`).get();
          return fn();
        });
      } catch (err) {
        if (began || (err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() - since >= busyMs) throw err;
      } finally {
        this.stmt(`PRAGMA busy_timeout = ${busyMs}`).get();
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  close(): void {
    this.#statements.clear();
    if (!this.raw.open) return;
    // Refresh query-planner statistics where SQLite thinks they are stale (cheap, recommended at close).
    // Best effort: on a full disk or a locked file it fails, and that must not keep the file open.
    try {
      if (!this.raw.readonly) this.raw.pragma('optimize');
    } catch {
      /* statistics stay as they were */
    }
    this.raw.close();
  }
}
