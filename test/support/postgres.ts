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
