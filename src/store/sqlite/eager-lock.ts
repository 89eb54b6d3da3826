/**
 * A connection that asks for SQLite's write lock the way the API's event batch does
 * (event-batch.ts): without SQLite's busy handler, whose sleeps grow to 100 ms a try. Against a
 * daemon that takes the lock every millisecond or so under load that handler rarely wins, and the
 * webhook delivery process's claims and outcomes lagged by seconds (BENCHMARKS F12, third pass).
 * Here a busy lock is tried again every millisecond — blocking, so only for a connection on a
 * process that serves nothing else (the delivery process) — up to the same 5 s after which any write
 * fails with SQLITE_BUSY. Open the connection with `busyTimeoutMs: 0`.
 */
import type { Database as Db } from 'better-sqlite3';
import { SqliteDb } from './connection.js';

export class EagerSqliteDb extends SqliteDb {
  readonly #pause = new Int32Array(new SharedArrayBuffer(4));

  constructor(raw: Db, private readonly busyMs = 5000) {
    super(raw);
  }

  override tx<T>(fn: () => T): T {
    if (this.raw.inTransaction) return super.tx(fn); // a savepoint: the lock is held already
    const since = Date.now();
    for (;;) {
      try {
        return super.tx(fn); // while another connection writes, BEGIN IMMEDIATE fails at once and nothing ran
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() - since >= this.busyMs) throw err;
        Atomics.wait(this.#pause, 0, 0, 1);
      }
    }
  }
}
