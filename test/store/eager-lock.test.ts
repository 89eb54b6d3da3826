/**
 * The webhook delivery thread's SQLite connection (src/store/sqlite/eager-lock.ts) asks for the write
 * lock every millisecond instead of in SQLite's busy handler: it writes as soon as another
 * connection lets go, and fails with SQLITE_BUSY when the lock is held past its bound.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { openConnection } from '../../src/store/sqlite/connection.js';
import { EagerSqliteDb } from '../../src/store/sqlite/eager-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'eager-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const driver = createRequire(import.meta.url).resolve('better-sqlite3');

/** Another thread takes the write lock, writes 'other', and commits after `holdMs`. */
async function holdLock(file: string, holdMs: number): Promise<Worker> {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const db = new (require(workerData.driver))(workerData.file);
     db.exec('BEGIN IMMEDIATE');
     db.prepare("INSERT INTO t (who) VALUES ('other')").run();
     parentPort.postMessage('held');
     setTimeout(() => { db.exec('COMMIT'); db.close(); parentPort.postMessage('released'); }, workerData.holdMs);`,
    { eval: true, workerData: { driver, file, holdMs } },
  );
  await new Promise((resolve) => worker.once('message', resolve));
  return worker;
}

function table(name: string): string {
  const file = join(dir, `${name}.db`);
  const setup = openConnection(file);
  setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT NOT NULL)');
  setup.close();
  return file;
}

describe('EagerSqliteDb', () => {
  it('writes as soon as another connection releases the write lock, after its write', async () => {
    const file = table('waits');
    const db = new EagerSqliteDb(openConnection(file, { busyTimeoutMs: 0 }));
    const worker = await holdLock(file, 150);
    db.tx(() => db.stmt("INSERT INTO t (who) VALUES ('eager')").run());
    expect(db.stmt('SELECT who FROM t ORDER BY id').all()).toEqual([{ who: 'other' }, { who: 'eager' }]);
    await worker.terminate();
    db.close();
  });

  it('fails with SQLITE_BUSY when the lock is held past its bound, having written nothing', async () => {
    const file = table('gives-up');
    const db = new EagerSqliteDb(openConnection(file, { busyTimeoutMs: 0 }), 50);
    const worker = await holdLock(file, 1000);
    expect(() => db.tx(() => db.stmt("INSERT INTO t (who) VALUES ('eager')").run())).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
    await new Promise((resolve) => worker.once('message', resolve)); // released
    expect(db.stmt('SELECT who FROM t ORDER BY id').all()).toEqual([{ who: 'other' }]);
    await worker.terminate();
    db.close();
  });
});
