/**
 * The webhook delivery process's SQLite connection (src/store/sqlite/eager-lock.ts) asks for the write
 * lock every millisecond instead of in SQLite's busy handler: it writes as soon as another
 * connection lets go, and fails with SQLITE_BUSY when the lock is held past its bound. The API's
 * connection waits for that lock on a timer instead (SqliteDb.txWhenFree), its event loop serving.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { openConnection, SqliteDb } from '../../src/store/sqlite/connection.js';
import { EagerSqliteDb } from '../../src/store/sqlite/eager-lock.js';
import { openTestStore, withStack } from './store-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'eager-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const driver = createRequire(import.meta.url).resolve('better-sqlite3');

/** Another thread takes the write lock, writes 'other' into `into`, and commits after `holdMs`. */
async function holdLock(file: string, holdMs: number, into = 't'): Promise<Worker> {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const db = new (require(workerData.driver))(workerData.file);
     db.exec('BEGIN IMMEDIATE');
     db.prepare('INSERT INTO ' + workerData.into + " (who) VALUES ('other')").run();
     parentPort.postMessage('held');
     setTimeout(() => { db.exec('COMMIT'); db.close(); parentPort.postMessage('released'); }, workerData.holdMs);`,
    { eval: true, workerData: { driver, file, holdMs, into } },
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

/** How many times a 1 ms timer fired while `work` ran: 0 when it blocked the event loop throughout. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  const timer = setInterval(() => turns++, 1);
  try {
    const value = await work();
    return { value, turns };
  } finally {
    clearInterval(timer);
  }
}

describe('SqliteDb.txWhenFree (the API thread waiting for the write lock)', () => {
  it('waits for another connection to release the lock without blocking the event loop, then writes after it', async () => {
    const file = table('when-free');
    const db = new SqliteDb(openConnection(file));
    const worker = await holdLock(file, 300);
    const { value, turns } = await turnsDuring(() => db.txWhenFree(() => db.stmt("INSERT INTO t (who) VALUES ('api')").run().changes));
    expect(value).toBe(1);
    expect(turns).toBeGreaterThan(10); // a blocking wait (tx) lets no timer fire for 300 ms
    expect(db.stmt('SELECT who FROM t ORDER BY id').all()).toEqual([{ who: 'other' }, { who: 'api' }]);
    expect(db.raw.pragma('busy_timeout', { simple: true })).toBe(5000); // the connection's own, restored
    await worker.terminate();
    db.close();
  });

  it("fails with SQLITE_BUSY after the connection's busy timeout, having written nothing; an error inside fn is fn's", async () => {
    const file = table('when-free-gives-up');
    const db = new SqliteDb(openConnection(file, { busyTimeoutMs: 100 }));
    const worker = await holdLock(file, 400);
    await expect(db.txWhenFree(() => db.stmt("INSERT INTO t (who) VALUES ('api')").run())).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    await new Promise((resolve) => worker.once('message', resolve)); // released
    expect(db.stmt('SELECT who FROM t ORDER BY id').all()).toEqual([{ who: 'other' }]);
    await expect(
      db.txWhenFree(() => {
        db.stmt("INSERT INTO t (who) VALUES ('rolled back')").run();
        throw new Error('fn failed');
      }),
    ).rejects.toThrow('fn failed');
    expect(db.stmt('SELECT who FROM t ORDER BY id').all()).toEqual([{ who: 'other' }]);
    expect(db.raw.pragma('busy_timeout', { simple: true })).toBe(100);
    await worker.terminate();
    db.close();
  });

  it("a commit's sync and an agent's heartbeat wait for the lock with the event loop running", async () => {
    const { store, path } = await openTestStore();
    const { generatorId } = await withStack(store);
    const agent = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
    const plan = {
      generatorId,
      commit: { sha: 'c2', author_name: 'a', author_email: 'a@x', subject: 's', committed_at: '2030-01-02T00:00:00.000Z' },
      expectedCursor: 'c1',
      upserts: [{ name: 'api', path: 'api', description: null, labels: [], annotations: {}, content: { yaml: 'b: 2\n', checksum: 'y' } }],
      deletes: [],
      errors: [],
    };
    const other = new Database(path);
    other.exec('CREATE TABLE scratch (who TEXT)');
    other.close();
    let worker = await holdLock(path, 300, 'scratch');
    const applied = await turnsDuring(() => store.applyCommit(plan));
    expect(applied.value.created.map((c) => c.name)).toEqual(['api']);
    expect(applied.turns).toBeGreaterThan(10);
    await worker.terminate();

    worker = await holdLock(path, 300, 'scratch');
    const beat = await turnsDuring(() => store.recordHeartbeat(agent.id));
    expect(beat.turns).toBeGreaterThan(10);
    expect((await store.getAgent(agent.id))!.last_heartbeat).not.toBeNull();
    await worker.terminate();
  });
});
