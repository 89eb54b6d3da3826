/** PostgreSQL migrations (numbered like SQLite's, under an advisory lock), check and backup through the open-store entry points. */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { backupDatabase, checkDatabase, isPostgresUrl, migrateDatabase, openStore } from '../../src/store/open-store.js';
import { migratePostgres, PG_LATEST_VERSION } from '../../src/store/postgres/migrator.js';
import { PG_MIGRATIONS } from '../../src/store/postgres/migrations/index.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations/index.js';
import { createTestDatabase } from '../support/postgres.js';

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('PostgreSQL migrations', () => {
  it('tells URLs from file paths', () => {
    expect(isPostgresUrl('postgres://u@h/db')).toBe(true);
    expect(isPostgresUrl('PostgreSQL://u@h/db')).toBe(true);
    expect(isPostgresUrl('./brokkr.db')).toBe(false);
  });

  it('numbers its migrations as SQLite does', () => {
    expect(PG_MIGRATIONS.map((m) => [m.version, m.name])).toEqual(MIGRATIONS.slice(0, PG_MIGRATIONS.length).map((m) => [m.version, m.name]));
  });

  it('a fresh database gets every migration once; again, all are AlreadyApplied', async () => {
    const url = await createTestDatabase('migrate');
    const run = await migrateDatabase(url);
    expect(run.error).toBeUndefined();
    expect(run.results.map((r) => [r.version, r.status])).toEqual(PG_MIGRATIONS.map((m) => [m.version, 'Success']));
    expect(run.version).toBe(PG_LATEST_VERSION);
    const again = await migrateDatabase(url);
    expect(again.results.every((r) => r.status === 'AlreadyApplied')).toBe(true);
    expect(await checkDatabase(url)).toEqual({ ok: true, version: PG_LATEST_VERSION, problems: [] });
  });

  it('three stores opening a fresh database together migrate it once', async () => {
    const url = await createTestDatabase('concurrent');
    const stores = await Promise.all([openStore(url), openStore(url), openStore(url)]);
    try {
      for (const s of stores) expect(await s.schemaVersion()).toBe(PG_LATEST_VERSION);
      const rows = await withClient(url, (c) => c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version'));
      expect(rows.rows.map((r) => r.version)).toEqual(PG_MIGRATIONS.map((m) => m.version));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('a database at migration 1 upgrades with its rows intact', async () => {
    const url = await createTestDatabase('upgrade');
    expect((await migrateDatabase(url, { target: 1 })).version).toBe(1);
    const stack = await withClient(url, async (c) => {
      const g = (await c.query("INSERT INTO generators (name) VALUES ('repo') RETURNING id")).rows[0].id;
      return (await c.query("INSERT INTO stacks (name, generator_id) VALUES ('legacy', $1) RETURNING id", [g])).rows[0].id as string;
    });
    const store = await openStore(url);
    try {
      expect(await store.getStack(stack)).toMatchObject({ name: 'legacy', path: null });
    } finally {
      await store.close();
    }
  });

  it('a database newer than this build is refused with a clear error', async () => {
    const url = await createTestDatabase('newer');
    await migrateDatabase(url);
    await withClient(url, (c) => c.query("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')"));
    expect((await migrateDatabase(url)).error).toMatch(/schema version 99, newer than this brokkr-sync knows/);
    await expect(openStore(url)).rejects.toThrow(/newer than this brokkr-sync knows/);
  });

  it('a failing migration rolls back alone and the later ones are reported not executed', async () => {
    const url = await createTestDatabase('failing');
    const run = await withClient(url, (c) =>
      migratePostgres(c, {
        migrations: [
          { version: 1, name: 'ok', sql: 'CREATE TABLE a (x int);' },
          { version: 2, name: 'broken', sql: 'CREATE TABLE b (x int); CREATE TABLE b (y int);' },
          { version: 3, name: 'later', sql: 'CREATE TABLE c (x int);' },
        ],
      }),
    );
    expect(run.results.map((r) => r.status)).toEqual(['Success', 'Error', 'NotExecuted']);
    expect(run.error).toMatch(/migration 2 \(broken\) failed: relation "b" already exists/);
    expect(run.version).toBe(1);
    expect((await withClient(url, (c) => c.query("SELECT to_regclass('b') AS t"))).rows[0].t).toBeNull();
  });

  it('check reports a missing schema and a dropped trigger', async () => {
    const url = await createTestDatabase('check');
    expect(await checkDatabase(url)).toMatchObject({ ok: false, version: 0, problems: [expect.stringMatching(/run brokkr-sync db migrate/)] });
    await migrateDatabase(url);
    await withClient(url, (c) => c.query('DROP TRIGGER trigger_handle_stack_soft_delete ON stacks'));
    expect(await checkDatabase(url)).toMatchObject({ ok: false, problems: ['trigger trigger_handle_stack_soft_delete is missing'] });
  });

  it('backup points to pg_dump and never echoes the URL', async () => {
    const url = 'postgres://brokkr:hunter2@db.example:5432/brokkr';
    const err = (await backupDatabase(url, '/tmp/x').then(() => null, (e: unknown) => e)) as Error;
    expect(err.message).toMatch(/pg_dump --format=custom/);
    expect(err.message).not.toContain('hunter2');
  });
});
