/** A real in-process daemon for agent tests: SQLite store in a temp dir + the HTTP API on 127.0.0.1:0. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ChangeFeed } from '../../src/change-feed.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { createServer } from '../../src/http/server.js';
import { generatePak, hashPak } from '../../src/http/pak.js';

export interface StackSpec {
  content: string;
  labels?: string[];
}

export interface Harness {
  url: string;
  adminPak: string;
  store: Store;
  dir: string;
  /** Create an agent with labels; returns its id and PAK. */
  createAgent(name: string, labels: string[]): Promise<{ id: string; pak: string }>;
  /** One "commit": set these stacks (name → content) and delete the named ones. Returns stack ids by name. */
  commit(stacks: Record<string, StackSpec>, deletes?: string[]): Promise<Record<string, string>>;
  events(agentId: string): Promise<{ deployment_object_id: string; event_type: string; status: string; message: string | null }[]>;
  /** Long polls parked on the server right now. */
  waiting(): number;
  /** Stop listening (the store stays open), e.g. to simulate the daemon going away. */
  stopServer(): Promise<void>;
  /** Listen again on the same port. */
  startServer(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'brokkr-agent-daemon-'));
  const store = await openStore(join(dir, 'brokkr.db'));
  const adminPak = generatePak();
  await store.setAdminPakHash(hashPak(adminPak));
  const feed = new ChangeFeed();
  const generator = await store.ensureGenerator('test-repo', null);
  await store.saveSyncTarget(generator.id, { repo: dir, branch: 'main', root: '' });
  let cursor: string | null = null;
  let n = 0;
  const ids = new Map<string, string>();

  let app: FastifyInstance | null = null;
  let port = 0;
  const listen = async () => {
    app = await createServer({ store, feed, rateLimit: false });
    await app.listen({ host: '127.0.0.1', port });
    const addr = app.server.address();
    if (addr && typeof addr === 'object') port = addr.port;
  };
  await listen();

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${adminPak}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
    return res.status === 204 ? null : res.json();
  };

  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    adminPak,
    store,
    dir,
    async createAgent(name, labels) {
      const created = (await admin('POST', '/agents', { name, cluster_name: 'test', labels })) as { agent: { id: string }; initial_pak: string };
      return { id: created.agent.id, pak: created.initial_pak };
    },
    async commit(stacks, deletes = []) {
      n += 1;
      const sha = createHash('sha1').update(`commit ${n}`).digest('hex');
      const result = await store.applyCommit({
        generatorId: generator.id,
        commit: { sha, author_name: 'T', author_email: 't@example.com', subject: `commit ${n}`, committed_at: new Date().toISOString() },
        expectedCursor: cursor,
        upserts: Object.entries(stacks).map(([name, spec]) => ({
          id: ids.get(name),
          name,
          path: name,
          description: null,
          labels: spec.labels ?? ['prod'],
          annotations: {},
          content: { yaml: spec.content, checksum: createHash('sha256').update(spec.content).digest('hex') },
        })),
        deletes: deletes.map((name) => ids.get(name)!).filter(Boolean),
        errors: [],
      });
      cursor = sha;
      for (const c of result.created) ids.set(c.name, c.stack_id);
      for (const d of deletes) ids.delete(d);
      feed.notify();
      return Object.fromEntries(ids);
    },
    async events(agentId) {
      return (await admin('GET', `/agents/${agentId}/events`)) as never;
    },
    waiting: () => feed.waiting,
    async stopServer() {
      await app?.close();
      app = null;
    },
    async startServer() {
      await listen();
    },
    async close() {
      await app?.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
