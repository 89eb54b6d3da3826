/**
 * Real `brokkr-sync serve` replicas on one PostgreSQL database and one repository: each its own
 * process, --data-dir and port, all sharing BROKKR_ADMIN_PAK. Which one syncs is read from the
 * database (`sync_leases`), the way an operator would find out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { requireBuild, startCli, until, type CliProcess } from '../../e2e/cli-process.js';

export const ADMIN_PAK = 'brk_replicas-admin-pak-0123456789abcdef0123';

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
  /** performance.now() when the answer (headers and body) had arrived. */
  at: number;
}

export interface CallOptions {
  /** Admin PAK by default; null: no Authorization header. */
  pak?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface Replica {
  readonly name: string;
  readonly url: string;
  /** The holder name it uses in sync_leases. */
  readonly replicaId: string;
  readonly proc: CliProcess;
  call(method: string, path: string, opts?: CallOptions): Promise<Answer>;
  /** SIGKILL: no shutdown, the lease stays in the database until it expires. */
  kill(): Promise<void>;
  /** SIGTERM: a clean stop (the lease is released); resolves with the exit code. */
  stop(): Promise<number | null>;
  alive(): boolean;
  /** Everything it printed (pino JSON lines on stdout). */
  output(): string;
}

/** One HTTP request; JSON in and out. Network failures are thrown (callers decide what they mean). */
export async function call(baseUrl: string, method: string, path: string, opts: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const pak = opts.pak === undefined ? ADMIN_PAK : opts.pak;
  if (pak !== null) headers.authorization = `Bearer ${pak}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(baseUrl + path, { method, headers, body, signal: opts.signal });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, headers: res.headers, at: performance.now() };
}

export interface ReplicaOptions {
  name: string;
  db: string;
  repo: string;
  /** Extra environment (e.g. BROKKR_LEASE_TTL_MS). */
  env?: NodeJS.ProcessEnv;
  /** Default: a fresh temp directory, removed by cleanup(). */
  dataDir?: string;
  /** Repository poll interval, seconds (default 1; the ref watcher is the fast path). */
  interval?: number;
  logLevel?: string;
}

const dirs: string[] = [];

/** Start one `serve` process and wait until it listens; throws with its output if it exits first. */
export async function startReplica(opts: ReplicaOptions): Promise<Replica> {
  requireBuild();
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), `brokkr-replica-${opts.name.toLowerCase()}-`));
  if (!opts.dataDir) dirs.push(dataDir);
  const proc = startCli(
    [
      'serve',
      '--repo', opts.repo,
      '--branch', 'main',
      '--db', opts.db,
      '--data-dir', dataDir,
      '--port', '0',
      '--interval', String(opts.interval ?? 1),
      '--log-level', opts.logLevel ?? 'info',
    ],
    { env: { BROKKR_ADMIN_PAK: ADMIN_PAK, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', ...opts.env } },
  );
  let exitCode: number | null | undefined;
  void proc.exited().then((code) => (exitCode = code));
  const banner = await until(
    () => {
      if (exitCode !== undefined) throw new Error(`replica ${opts.name} exited (${exitCode}) before serving:\n${proc.stdout()}\n${proc.stderr()}`);
      return /brokkr-sync serving (http:\/\/\S+) [\s\S]*?\ndatabase .*, replica (\S+)\n/.exec(proc.stdout());
    },
    `replica ${opts.name} to serve`,
    30_000,
  );
  const [, url, replicaId] = banner;
  const replica: Replica = {
    name: opts.name,
    url: url!,
    replicaId: replicaId!,
    proc,
    call: (method, path, o) => call(url!, method, path, o),
    async kill() {
      await proc.stop('SIGKILL');
    },
    stop: () => proc.stop('SIGTERM'),
    alive: () => proc.child.exitCode === null && proc.child.signalCode === null,
    output: () => `${proc.stdout()}\n${proc.stderr()}`,
  };
  return replica;
}

/** Remove the data directories startReplica created (after the processes are gone). */
export function cleanupReplicaDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * A test's own connection to the database: reads what the replicas wrote, and cuts their
 * connections. It reconnects by itself when its own connection is cut too (a restarted server).
 */
export class Observer {
  #client: pg.Client | null = null;
  constructor(readonly url: string) {}

  async #connected(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    const client = new pg.Client({ connectionString: this.url, application_name: 'brokkr-test-observer' });
    client.on('error', () => {
      if (this.#client === client) this.#client = null;
    });
    await client.connect();
    this.#client = client;
    return client;
  }

  async query<R extends pg.QueryResultRow = any>(text: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await (await this.#connected()).query<R>(text, params)).rows;
    } catch (err) {
      const client = this.#client;
      this.#client = null;
      await client?.end().catch(() => undefined);
      throw err;
    }
  }

  /** The live lease holder of the (only) repository, by the database's clock; null when nobody holds one. */
  async leaseHolder(): Promise<string | null> {
    try {
      const rows = await this.query<{ holder: string }>('SELECT holder FROM sync_leases WHERE expires_at > clock_timestamp()');
      return rows[0]?.holder ?? null;
    } catch (err) {
      if ((err as { code?: string }).code === '42P01') return null; // not migrated yet
      throw err;
    }
  }

  async cursor(): Promise<string | null> {
    try {
      const rows = await this.query<{ cursor_commit: string | null }>('SELECT cursor_commit FROM sync_state');
      return rows[0]?.cursor_commit ?? null;
    } catch (err) {
      if ((err as { code?: string }).code === '42P01') return null;
      throw err;
    }
  }

  async count(table: string): Promise<number> {
    return Number((await this.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
  }

  /** pg_terminate_backend every other session of this database: the replicas' pools and LISTEN connections. */
  async cutConnections(): Promise<number> {
    const rows = await this.query(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    return rows.length;
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => undefined);
  }
}

/** The replica holding the lease (waits until one does). */
export async function waitForHolder(observer: Observer, replicas: readonly Replica[] | (() => readonly Replica[]), deadlineMs = 20_000): Promise<Replica> {
  return until(
    async () => {
      const holder = await observer.leaseHolder();
      return (typeof replicas === 'function' ? replicas() : replicas).find((r) => r.replicaId === holder && r.alive());
    },
    'a replica to hold the sync lease',
    deadlineMs,
  );
}

export async function waitForCursor(observer: Observer, sha: string, deadlineMs = 20_000): Promise<void> {
  await until(async () => (await observer.cursor()) === sha, `the cursor to reach ${sha.slice(0, 7)}`, deadlineMs);
}

/** Create an agent (labels optional) through a replica; returns its id and PAK. */
export async function createAgent(r: Replica, name: string, labels: string[] = []): Promise<{ id: string; pak: string }> {
  const res = await r.call('POST', '/api/v1/agents', { body: { name, cluster_name: 'test', labels } });
  if (res.status !== 201) throw new Error(`create agent ${name} on ${r.name}: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.agent.id as string, pak: res.body.initial_pak as string };
}

/** GET target-state as the agent; with an ETag and wait, a long poll. */
export function targetState(r: Replica, agent: { id: string; pak: string }, opts: { etag?: string; wait?: number; signal?: AbortSignal } = {}): Promise<Answer> {
  const query = opts.wait ? `?wait=${opts.wait}` : '';
  return r.call('GET', `/api/v1/agents/${agent.id}/target-state${query}`, {
    pak: agent.pak,
    headers: opts.etag ? { 'if-none-match': opts.etag } : {},
    signal: opts.signal,
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
