/** Fixtures for store tests: temp database files, a plain connection without product setup, the sqlite3 shell, row seeding. */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach } from 'vitest';
import { migrateDatabase, openStore } from '../../src/store/open-store.js';
import { STORE_ENGINES, type CommitPlan, type Store, type StoreEngine } from '../../src/store/store.js';
import { createTestDatabase, emptyTestDatabase } from '../support/postgres.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A fresh path for a database file in its own temp directory, removed after the test. */
export function tempDbPath(name = 'brokkr.db'): string {
  const dir = mkdtempSync(join(tmpdir(), 'brokkr-store-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, name);
}

/** A migrated Store on a temp file, closed after the test. */
export async function openTestStore(path = tempDbPath()): Promise<{ store: Store; path: string }> {
  const store = await openStore(path);
  cleanups.push(() => store.close());
  return { store, path };
}

/** Every engine the contract suite runs against: `describe.each(ENGINES)`. */
export const ENGINES: readonly StoreEngine[] = STORE_ENGINES;

/** Plain SQL on the store's database, as any client could run it ('?' placeholders on both engines). */
export interface RawSql {
  exec(sql: string, ...params: unknown[]): Promise<void>;
  count(table: string, where?: string, ...params: unknown[]): Promise<number>;
}

let fileDatabase: Promise<string> | undefined;
/** One PostgreSQL database per test file, emptied (not recreated) before each fresh store: cheap and isolated. */
async function freshPostgresDatabase(): Promise<string> {
  fileDatabase ??= createTestDatabase('store');
  const url = await fileDatabase;
  await emptyTestDatabase(url);
  return url;
}

/**
 * A migrated Store of the engine, closed after the test: on a new temp file (sqlite) or the file's
 * emptied database (postgres). Pass `target` to open a second store on the same database.
 */
export async function openEngineStore(engine: StoreEngine, target?: string): Promise<{ store: Store; target: string; raw: RawSql }> {
  const where = target ?? (engine === 'sqlite' ? tempDbPath() : await freshPostgresDatabase());
  const store = await openStore(where);
  cleanups.push(() => store.close());
  return { store, target: where, raw: rawSql(engine, where) };
}

/** A plain connection (better-sqlite3 or pg.Client) to the database, closed after the test. */
export function rawSql(engine: StoreEngine, target: string): RawSql {
  if (engine === 'sqlite') {
    const db = plainConnection(target);
    return {
      exec: async (sql, ...params) => void db.prepare(sql).run(...params),
      count: async (table, where = '1=1', ...params) =>
        (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).get(...params) as { n: number }).n,
    };
  }
  let client: Promise<pg.Client> | undefined;
  const connect = () =>
    (client ??= (async () => {
      const c = new pg.Client({ connectionString: target });
      await c.connect();
      cleanups.push(() => c.end());
      return c;
    })());
  const numbered = (sql: string) => {
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  };
  return {
    exec: async (sql, ...params) => void (await (await connect()).query(numbered(sql), params)),
    count: async (table, where = '1=1', ...params) =>
      Number((await (await connect()).query(`SELECT count(*) AS n FROM ${table} WHERE ${numbered(where)}`, params)).rows[0].n),
  };
}

/** A migrated temp file and a plain better-sqlite3 connection to it: no functions, no product pragmas. */
export async function migratedPlainDb(): Promise<{ db: Database.Database; path: string }> {
  const path = tempDbPath();
  const run = await migrateDatabase(path);
  if (run.error) throw new Error(run.error);
  return { db: plainConnection(path), path };
}

export function plainConnection(path: string): Database.Database {
  const db = new Database(path);
  cleanups.push(() => {
    if (db.open) db.close();
  });
  return db;
}

/**
 * Run SQL through the sqlite3 command-line shell (Debian 12: SQLite 3.40, foreign keys off).
 * A missing binary fails the test: the cross-client guarantee is part of the product.
 */
export function sqlite3(path: string, sql: string): string {
  try {
    return execFileSync('sqlite3', ['-bail', path], { input: sql, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error('the sqlite3 command-line shell is not installed: install it (apt-get install sqlite3) to run this test');
    }
    throw new Error(`sqlite3 failed: ${e.stderr?.trim() || e.message}`);
  }
}

export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const MD5_EMPTY = 'd41d8cd98f00b204e9800998ecf8427e';

/** Wait until the clock has moved past the current millisecond, so timestamps differ. */
export async function nextMillisecond(): Promise<void> {
  const start = new Date().toISOString();
  while (new Date().toISOString() === start) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, 2));
}

/** Seed rows with plain SQL, as any client of the file could. */
export class Seed {
  constructor(readonly db: Database.Database) {}

  generator(name = `gen-${Math.random().toString(36).slice(2, 8)}`): string {
    return (this.db.prepare('INSERT INTO generators (name) VALUES (?) RETURNING id').get(name) as { id: string }).id;
  }
  stack(generatorId: string, name = `stack-${Math.random().toString(36).slice(2, 8)}`): string {
    return (this.db.prepare('INSERT INTO stacks (name, generator_id) VALUES (?, ?) RETURNING id').get(name, generatorId) as { id: string }).id;
  }
  object(stackId: string, generatorId: string, yaml = 'kind: ConfigMap\n'): { id: string; sequence_id: number } {
    return this.db
      .prepare(
        `INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum, generator_id) VALUES (?, ?, 'sum', ?) RETURNING id, sequence_id`,
      )
      .get(stackId, yaml, generatorId) as { id: string; sequence_id: number };
  }
  agent(name = `agent-${Math.random().toString(36).slice(2, 8)}`, cluster = 'c1'): string {
    return (this.db.prepare('INSERT INTO agents (name, cluster_name) VALUES (?, ?) RETURNING id').get(name, cluster) as { id: string }).id;
  }
  event(agentId: string, objectId: string, status = 'SUCCESS'): string {
    return (
      this.db
        .prepare(`INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status) VALUES (?, ?, 'DEPLOY', ?) RETURNING id`)
        .get(agentId, objectId, status) as { id: string }
    ).id;
  }
  target(agentId: string, stackId: string): void {
    this.db.prepare('INSERT INTO agent_targets (agent_id, stack_id) VALUES (?, ?)').run(agentId, stackId);
  }
  count(table: string, where = '1', ...params: unknown[]): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).get(...params) as { n: number }).n;
  }
  row<T = Record<string, unknown>>(sql: string, ...params: unknown[]): T {
    return this.db.prepare(sql).get(...params) as T;
  }
  rows<T = Record<string, unknown>>(sql: string, ...params: unknown[]): T[] {
    return this.db.prepare(sql).all(...params) as T[];
  }
}

/**
 * A generator synced to '/r' and `apply`, which lands one commit (`c1`, `c2`, …) on top of the
 * previous one: pass only the parts of the plan a test cares about.
 */
export async function committer(store: Store, generatorName = 'repo') {
  const g = await store.ensureGenerator(generatorName, null);
  await store.saveSyncTarget(g.id, { repo: '/r', branch: 'main', root: '' });
  let cursor: string | null = null;
  let n = 0;
  const apply = async (parts: Partial<CommitPlan>) => {
    const sha = `c${++n}`;
    const r = await store.applyCommit({
      generatorId: g.id,
      commit: { sha, author_name: 'a', author_email: 'a@x', subject: sha, committed_at: new Date().toISOString() },
      expectedCursor: cursor,
      upserts: [],
      deletes: [],
      errors: [],
      ...parts,
    });
    cursor = sha;
    return r;
  };
  return { generatorId: g.id, apply };
}

/** One generator, one commit (`c1`) with one stack `web` and its object: the start of many store tests. */
export async function withStack(store: Store): Promise<{ stackId: string; generatorId: string; objectId: string }> {
  const g = await store.ensureGenerator('repo', null);
  await store.saveSyncTarget(g.id, { repo: '/r', branch: 'main', root: '' });
  const r = await store.applyCommit({
    generatorId: g.id,
    commit: { sha: 'c1', author_name: 'a', author_email: 'a@x', subject: 's', committed_at: '2030-01-01T00:00:00.000Z' },
    expectedCursor: null,
    upserts: [{ name: 'web', path: 'web', description: null, labels: [], annotations: {}, content: { yaml: 'a: 1\n', checksum: 'x' } }],
    deletes: [],
    errors: [],
  });
  return { stackId: r.created[0]!.stack_id, generatorId: g.id, objectId: r.created[0]!.object_id };
}

/**
 * Rows of each of `tables` read so far (sequential scans and index fetches, pg_stat_user_tables),
 * all of `session`'s reads included: it flushes its statistics first (a PostgreSQL session reports
 * them when it next goes idle after pg_stat_force_next_flush). For tests that count what a
 * statement reads.
 */
export async function rowsRead(session: { one(text: string): Promise<unknown> }, tables: readonly string[]): Promise<Record<string, number>> {
  await session.one('SELECT pg_stat_force_next_flush()');
  const rows = (await session.one(
    `SELECT coalesce(json_object_agg(relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), '{}') AS n
     FROM pg_stat_user_tables WHERE relname = ANY('{${tables.join(',')}}'::text[])`,
  )) as { n: Record<string, number> };
  return rows.n;
}
