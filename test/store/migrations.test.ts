/** Migrations, pragmas, backup and integrity check of the database file. */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backupDatabase, checkDatabase, LATEST_VERSION, migrateDatabase, openStore } from '../../src/store/open-store.js';
import { migrate } from '../../src/store/sqlite/migrator.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations/index.js';
import { openTestStore, plainConnection, Seed, tempDbPath } from './store-fixture.js';

const TABLES = [
  'stacks', 'agents', 'deployment_objects', 'agent_events', 'agent_targets',
  'stack_labels', 'stack_annotations', 'agent_labels', 'agent_annotations', 'generators',
];

describe('migrations', () => {
  it('a fresh file gets every migration, reported one result each', async () => {
    const path = tempDbPath();
    const run = await migrateDatabase(path);
    expect(run.error).toBeUndefined();
    expect(run.results.map((r) => [r.version, r.status])).toEqual(MIGRATIONS.map((m) => [m.version, 'Success']));
    expect(run.version).toBe(LATEST_VERSION);
    const names = new Seed(plainConnection(path)).rows<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").map((r) => r.name);
    for (const table of [...TABLES, 'schema_migrations', 'sync_state', 'object_provenance', 'sync_errors', 'admin_paks']) {
      expect(names, table).toContain(table);
    }
  });

  it('migrating twice is harmless and keeps the data', async () => {
    const path = tempDbPath();
    await migrateDatabase(path);
    const seed = new Seed(plainConnection(path));
    seed.stack(seed.generator(), 'web');
    const again = await migrateDatabase(path);
    expect(again.error).toBeUndefined();
    expect(again.results.every((r) => r.status === 'AlreadyApplied')).toBe(true);
    expect(seed.count('stacks', "name = 'web'")).toBe(1);
    expect(seed.count('schema_migrations')).toBe(MIGRATIONS.length);
  });

  it('a database at migration 1 upgrades to the latest with its rows intact', async () => {
    const path = tempDbPath();
    const first = await migrateDatabase(path, { target: 1 });
    expect(first.version).toBe(1);
    const old = new Database(path);
    const seed = new Seed(old);
    const stack = seed.stack(seed.generator('repo'), 'legacy');
    expect(() => old.prepare('SELECT path FROM stacks').all()).toThrow(/no such column/);
    old.close();

    const { store } = await openTestStore(path);
    expect(await store.schemaVersion()).toBe(LATEST_VERSION);
    const detail = await store.getStack(stack);
    expect(detail).toMatchObject({ name: 'legacy', path: null });
    expect(await store.listSyncStates()).toEqual([]);
  });

  it('a database newer than this build is refused with a clear error', async () => {
    const path = tempDbPath();
    await migrateDatabase(path);
    plainConnection(path).prepare("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')").run();
    const run = await migrateDatabase(path);
    expect(run.error).toMatch(/schema version 99, newer than this brokkr-sync knows/);
    await expect(openStore(path)).rejects.toThrow(/newer than this brokkr-sync knows/);
  });

  it('a failing migration rolls back alone and the later ones are reported not executed', async () => {
    const db = new Database(tempDbPath());
    try {
      const run = migrate(db, {
        migrations: [
          { version: 1, name: 'ok', sql: 'CREATE TABLE a (x);' },
          { version: 2, name: 'broken', sql: 'CREATE TABLE b (x); CREATE TABLE b (y);' },
          { version: 3, name: 'later', sql: 'CREATE TABLE c (x);' },
        ],
      });
      expect(run.results.map((r) => r.status)).toEqual(['Success', 'Error', 'NotExecuted']);
      expect(run.error).toMatch(/migration 2 \(broken\) failed: table b already exists/);
      expect(run.version).toBe(1);
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").get()).toBeUndefined();
    } finally {
      db.close();
    }
  });
});

describe('opening the store', () => {
  it('creates the parent directory and sets WAL, foreign keys, busy timeout, synchronous NORMAL and a 2 MiB page cache', async () => {
    const path = join(dirname(tempDbPath()), 'nested', 'deeper', 'brokkr.db');
    const store = await openStore(path);
    try {
      expect(existsSync(path)).toBe(true);
      const db = (store as unknown as { db: { raw: Database.Database } }).db.raw;
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
      expect(db.pragma('synchronous', { simple: true })).toBe(1);
      // SQLite's own default, not better-sqlite3's 16 MB (issue 16: the daemon's RSS).
      expect(db.pragma('cache_size', { simple: true })).toBe(-2000);
    } finally {
      await store.close();
    }
  });

  it('two stores on one file see each other\'s writes', async () => {
    const { store: a, path } = await openTestStore();
    const { store: b } = await openTestStore(path);
    const agent = await a.createAgent({ name: 'x', cluster_name: 'y', pak_hash: 'h' });
    expect(await b.getAgent(agent.id)).toEqual(agent);
  });
});

describe('backup and check', () => {
  it('a backup taken while the store is open holds the same rows', async () => {
    const { store, path } = await openTestStore();
    await store.createAgent({ name: 'x', cluster_name: 'y', pak_hash: 'h' });
    const dest = join(dirname(path), 'copy.db');
    await backupDatabase(path, dest);
    expect(new Seed(plainConnection(dest)).count('agents')).toBe(1);
    expect(await checkDatabase(dest)).toEqual({ ok: true, version: LATEST_VERSION, problems: [] });
  });

  it('check reports rows whose foreign key parent is missing', async () => {
    const path = tempDbPath();
    await migrateDatabase(path);
    const db = plainConnection(path);
    db.pragma('foreign_keys = OFF');
    db.prepare("INSERT INTO stacks (name, generator_id) VALUES ('orphan', 'no-such-generator')").run();
    db.close();
    const result = await checkDatabase(path);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([expect.stringMatching(/foreign key: stacks row \d+ references a missing generators row/)]);
  });

  it('check reports a file without the schema', async () => {
    const path = tempDbPath();
    new Database(path).close();
    const result = await checkDatabase(path);
    expect(result).toMatchObject({ ok: false, version: 0 });
    expect(result.problems[0]).toMatch(/run brokkr-sync db migrate/);
  });
});
