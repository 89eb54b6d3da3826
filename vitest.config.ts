import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // vitest's default is one worker per core minus one: on the 2-core machines that is one file at
    // a time, while most files spend their time waiting on git, servers and child processes.
    maxWorkers: 2,
    // One embedded PostgreSQL server per run; store tests create a database each (test/support/postgres.ts).
    globalSetup: ['test/support/postgres-server.ts'],
    // Servers a test file starts share their compiled route schemas (~200 ms of CPU per server otherwise).
    setupFiles: ['test/support/shared-schema-compilers.ts'],
    // The JSON report lets .ci/run print one plain "N passed, N failed" line for CI.
    reporters: ['default', 'json'],
    outputFile: { json: 'node_modules/.cache/vitest-results.json' },
  },
});
