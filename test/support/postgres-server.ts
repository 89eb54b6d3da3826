/** vitest globalSetup: one real PostgreSQL server per test run (postgres-process.ts); test files create their own databases. */
import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres-process.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres://user:pass@127.0.0.1:port (no database): test files create their own with createTestDatabase. */
    postgresBaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startPostgres();
  project.provide('postgresBaseUrl', server.baseUrl);
  return () => server.close();
}
