/** Fixtures for HTTP tests: a real server on 127.0.0.1:0 over a temp SQLite file or a PostgreSQL database, a fetch helper, and commits applied straight to the store. */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { ChangeFeed } from '../../src/change-feed.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store, StoreEngine } from '../../src/store/store.js';
import type { Agent } from '../../src/store/records.js';
import { createServer, type ServerOptions } from '../../src/http/server.js';
import { ensureAdminPak } from '../../src/http/admin-pak.js';
import { borrowTestDatabase } from '../support/postgres.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
/** Servers started with `{ keep: 'file' }`: closed after the test file instead of after the test. */
const fileCleanups: (() => unknown)[] = [];
afterAll(async () => {
  while (fileCleanups.length) await fileCleanups.pop()!();
});

export function tempDir(prefix = 'brokkr-http-', list = cleanups): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  list.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface TestServer {
  app: FastifyInstance;
  base: string;
  store: Store;
  feed: ChangeFeed;
  adminPak: string;
  engine: StoreEngine;
  /** The database: a file path (sqlite) or a postgres:// URL. */
  dbPath: string;
  call<T = any>(method: string, path: string, opts?: CallOptions): Promise<Reply<T>>;
  /** An agent created through the API, with its PAK. */
  createAgent(input?: { name?: string; cluster_name?: string; labels?: string[]; annotations?: Record<string, string> }): Promise<{ agent: Agent; pak: string }>;
  repo: StoreRepo;
}

export interface CallOptions {
  pak?: string | null;
  body?: unknown;
  /** Raw body (sent as is, with the given content type). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * Start a server (rate limiting off unless asked) and return helpers; closed after the test (after the
 * test file with `keep: 'file'`). The store is a new temp file (sqlite, the default) or an emptied
 * database of the test file (postgres).
 */
export async function startTestServer(
  options: Partial<ServerOptions> = {},
  { wrapStore, engine = 'sqlite', keep = 'test' }: { wrapStore?: (store: Store) => Store; engine?: StoreEngine; keep?: 'test' | 'file' } = {},
): Promise<TestServer> {
  const closers = keep === 'file' ? fileCleanups : cleanups;
  let dbPath: string;
  if (engine === 'sqlite') dbPath = join(tempDir(undefined, closers), 'brokkr.db');
  else {
    const borrowed = await borrowTestDatabase('http');
    closers.push(borrowed.release); // runs after the store below is closed
    dbPath = borrowed.url;
  }
  const opened = await openStore(dbPath);
  const store = wrapStore ? wrapStore(opened) : opened;
  const feed = options.feed ?? new ChangeFeed();
  const { pak: adminPak } = await ensureAdminPak(store, dbPath, {});
  // HTTP_TEST_LOG=error (or info) shows the server's log while debugging a test.
  const logger = process.env.HTTP_TEST_LOG ? pino({ level: process.env.HTTP_TEST_LOG }, pino.destination(2)) : undefined;
  const app = await createServer({ rateLimit: false, closeGraceMs: 200, logger, ...options, store, feed });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  closers.push(async () => {
    await app.close();
    await opened.close();
  });

  const call = async <T = any>(method: string, path: string, opts: CallOptions = {}): Promise<Reply<T>> => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const pak = opts.pak === undefined ? adminPak! : opts.pak;
    if (pak !== null && !('authorization' in headers)) headers.authorization = `Bearer ${pak}`;
    let body: string | Buffer | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(base + path, { method, headers, body: body as BodyInit | undefined, signal: opts.signal });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON (metrics) */
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  };

  const repo = new StoreRepo(store, feed);
  return {
    app,
    base,
    store,
    feed,
    adminPak: adminPak!,
    engine,
    dbPath,
    call,
    repo,
    async createAgent(input = {}) {
      const res = await call('POST', '/api/v1/agents', {
        body: { name: input.name ?? `agent-${randomUUID().slice(0, 8)}`, cluster_name: input.cluster_name ?? 'c1', ...input },
      });
      if (res.status !== 201) throw new Error(`createAgent: ${res.status} ${res.text}`);
      return { agent: res.body.agent, pak: res.body.initial_pak };
    },
  };
}

export interface StackSpec {
  name: string;
  labels?: string[];
  annotations?: Record<string, string>;
  /** New content (a new deployment object); omit to change only the row. */
  yaml?: string;
}

/** Commits written straight through the Store (what the syncer does), announcing each on the feed. */
export class StoreRepo {
  #generatorId: string | null = null;
  #cursor: string | null = null;
  #n = 0;
  readonly ids = new Map<string, string>();

  constructor(
    readonly store: Store,
    readonly feed: ChangeFeed,
  ) {}

  async generatorId(): Promise<string> {
    if (!this.#generatorId) {
      const g = await this.store.ensureGenerator('test-repo', 'test');
      await this.store.saveSyncTarget(g.id, { repo: '/tmp/test-repo', branch: 'main', root: '' });
      this.#generatorId = g.id;
    }
    return this.#generatorId;
  }

  /** Apply one commit: upsert these stacks, delete those names. Returns the stack ids by name. */
  async commit(stacks: StackSpec[], deletes: string[] = [], notify = true): Promise<Map<string, string>> {
    const generatorId = await this.generatorId();
    this.#n += 1;
    const sha = createHash('sha1').update(`commit ${this.#n} ${Math.random()}`).digest('hex');
    const result = await this.store.applyCommit({
      generatorId,
      commit: { sha, author_name: 'Test', author_email: 't@example.com', subject: `commit ${this.#n}`, committed_at: new Date().toISOString() },
      expectedCursor: this.#cursor,
      upserts: stacks.map((s) => ({
        id: this.ids.get(s.name),
        name: s.name,
        path: s.name,
        description: null,
        labels: s.labels ?? [],
        annotations: s.annotations ?? {},
        content: s.yaml === undefined ? undefined : { yaml: s.yaml, checksum: createHash('sha256').update(s.yaml).digest('hex') },
      })),
      deletes: deletes.map((name) => {
        const id = this.ids.get(name);
        if (!id) throw new Error(`no stack ${name}`);
        return id;
      }),
      errors: [],
    });
    this.#cursor = sha;
    for (const c of result.created) this.ids.set(c.name, c.stack_id);
    for (const name of deletes) this.ids.delete(name);
    if (notify) this.feed.notify();
    return new Map(this.ids);
  }
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
