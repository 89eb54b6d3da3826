/** Test databases on the run's PostgreSQL server (test/support/postgres-server.ts): one fresh database per caller, dropped afterwards. */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { afterAll, inject } from 'vitest';

/** The server's base URL (no database), from the globalSetup. */
export function postgresBaseUrl(): string {
  const url = inject('postgresBaseUrl');
  if (!url) throw new Error('no PostgreSQL test server: test/support/postgres-server.ts must be a vitest globalSetup');
  return url;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${postgresBaseUrl()}/postgres` });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const created: string[] = [];
// Registered when a test file imports this module: its databases go when the file is done.
afterAll(async () => {
  const names = created.splice(0);
  idle.splice(0);
  if (names.length) await admin(async (c) => {
    for (const name of names) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
});

/**
 * A new, empty database whose URL is returned; dropped after the test file (FORCE: a store a test
 * forgot to close cannot keep it alive). Names are unique per call, so files never share rows.
 */
export async function createTestDatabase(prefix = 'brokkr'): Promise<string> {
  const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  created.push(name);
  return `${postgresBaseUrl()}/${name}`;
}

/** Databases of this test file that no store uses any more: handed out again, emptied. */
const idle: string[] = [];

/**
 * Every table but schema_migrations emptied and its sequences restarted; the schema (and its
 * triggers) stays. DELETE with triggers off (session_replication_role = replica, as superuser:
 * the cascades and foreign keys would only refuse or repeat work on rows that all go) takes a few
 * ms on these small tables, where TRUNCATE of 17 tables takes ~100 ms (new files for each).
 */
export async function emptyTestDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ name: string }>(
      "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'",
    );
    const sequences = await client.query<{ name: string }>("SELECT sequencename AS name FROM pg_sequences WHERE schemaname = 'public'");
    await client.query(
      [
        'BEGIN',
        'SET LOCAL session_replication_role = replica',
        ...tables.rows.map((t) => `DELETE FROM ${t.name}`),
        ...sequences.rows.map((s) => `ALTER SEQUENCE ${s.name} RESTART`),
        'COMMIT',
      ].join(';\n'),
    );
  } finally {
    await client.end();
  }
}

/**
 * An empty database for one store at a time, reused within the test file: CREATE DATABASE and
 * migrating cost ~100 ms, emptying a released one a few. Release it only once every connection to
 * it is closed (a store left open would keep its locks through the next test's TRUNCATE); a test
 * that needs two at once borrows two.
 */
export async function borrowTestDatabase(prefix = 'brokkr'): Promise<{ url: string; release: () => void }> {
  const url = idle.pop() ?? (await createTestDatabase(prefix));
  await emptyTestDatabase(url);
  let released = false;
  return {
    url,
    release: () => {
      if (!released) idle.push(url);
      released = true;
    },
  };
}
