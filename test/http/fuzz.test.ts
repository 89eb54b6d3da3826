/**
 * Hostile requests against every route of the OpenAPI document: malformed ids, odd paths, wrong
 * types, huge numbers, deep nesting, NUL bytes, megabyte strings, SQL-looking text, broken headers.
 * Never a 5xx, and the database is unchanged whenever a request was refused.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { buildWorld, type World } from './world.js';

/** mulberry32: a tiny seeded PRNG so a failure can be replayed with FUZZ_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SQLISH = ["' OR '1'='1", "x'); DROP TABLE agents;--", '"; DELETE FROM stacks; --', '1; SELECT * FROM admin_paks', '%', '_'];
const STRINGS = ['', ' ', 'a', '\u0000', 'nul\u0000byte', '..', '../../etc/passwd', 'é', '🦀', '\u202e', 'x'.repeat(65), 'x'.repeat(300), ...SQLISH];
const BAD_IDS = [
  'x',
  '..',
  '%2e%2e',
  '%2F',
  'a%2Fb',
  '%00',
  '00000000-0000-4000-8000-00000000000',
  '00000000-0000-4000-8000-0000000000000',
  'g0000000-0000-4000-8000-000000000000',
  "1'%20OR%20'1'='1",
  'x'.repeat(150),
  'x'.repeat(5000),
  '%E2%80%AE',
  '%ZZ',
];

function hostileValue(r: () => number, depth = 0): unknown {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  switch (Math.floor(r() * 12)) {
    case 0:
      return pick(STRINGS);
    case 1:
      return pick([0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 64]);
    case 2:
      return pick([true, false, null]);
    case 3:
      return depth < 3 ? [hostileValue(r, depth + 1), hostileValue(r, depth + 1)] : [];
    case 4:
      return depth < 3 ? { [pick(STRINGS)]: hostileValue(r, depth + 1) } : {};
    case 5:
      return 'm'.repeat(Math.floor(r() * 300_000));
    case 6:
      return pick(SQLISH);
    case 7:
      return '00000000-0000-4000-8000-000000000000';
    case 8:
      return pick(['DEPLOY', 'DELETE', 'SUCCESS', 'FAILURE', 'ACTIVE', 'deploy']);
    case 9:
      return { __proto__: { admin: true } };
    case 10:
      return 'x'.repeat(64);
    default:
      return pick(STRINGS) + pick(SQLISH);
  }
}

function deepNesting(n: number): string {
  return `${'['.repeat(n)}${']'.repeat(n)}`;
}

interface Operation {
  method: string;
  path: string;
  params: string[];
  bodyFields: string[];
}

/**
 * Whether anyone wrote to the database file since the last call: SQLite's `data_version` changes
 * whenever another connection commits, so one cheap pragma per request proves "unchanged".
 */
function changeWatcher(dbPath: string): { changed(): boolean; close(): void } {
  const db = new Database(dbPath, { readonly: true });
  const version = () => db.pragma('data_version', { simple: true }) as number;
  let last = version();
  return {
    changed() {
      const now = version();
      const changed = now !== last;
      last = now;
      return changed;
    },
    close: () => db.close(),
  };
}

/** Ready, and takes webhook requests: so a 503 can only mean a server fault. */
const syncer = { isReady: () => true, requestSync: () => undefined };

function validParam(w: World, op: Operation, name: string, r: () => number, victim: string): string {
  // Deleting an agent or rotating its PAK succeeds on a victim, not on the agents the fuzzer calls as.
  if (name === 'id' && (op.path.endsWith('rotate-pak') || (op.method === 'DELETE' && op.path.endsWith('{id}')))) return victim;
  if (name === 'id') return r() < 0.5 ? w.self.id : w.objectId;
  if (name === 'stack_id') return w.stackId;
  if (name === 'label') return 'blue';
  if (name === 'key') return 'k';
  return 'x';
}

describe('fuzzing every route', () => {
  it('hostile requests never get a 5xx, and refused ones change nothing in the database', async () => {
    // Thousands of refused requests each create an Error; under vitest every stack trace is
    // source-mapped, which costs more than the request itself. The server never shows stacks.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
    console.log(`fuzz seed ${seed} (FUZZ_SEED=${seed} to replay)`);
    const r = prng(seed);
    const w = await buildWorld({ syncer, timeouts: { headersTimeout: 500, requestTimeout: 1000 } });
    const doc = (await w.s.call('GET', '/api/v1/openapi.json', { pak: null })).body;
    const operations: Operation[] = [];
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(methods)) {
        operations.push({
          method: method.toUpperCase(),
          path,
          params: (op.parameters ?? []).filter((p: { in: string }) => p.in === 'path').map((p: { name: string }) => p.name),
          bodyFields: Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {}),
        });
      }
    }
    expect(operations.length).toBeGreaterThan(30);

    const paks = [w.s.adminPak, w.self.pak, w.other.pak, w.generatorPak, 'garbage', `Bearer ${'x'.repeat(600)}`, '', 'Basic YWRtaW46YWRtaW4='];
    let victim = (await w.s.createAgent()).agent.id;
    const watcher = changeWatcher(w.s.dbPath);
    let requests = 0;
    const failures: string[] = [];
    for (const op of operations) {
      for (let i = 0; i < 40; i++) {
        const mutateParam = r() < 0.5;
        let path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) =>
          mutateParam && r() < 0.7 ? BAD_IDS[Math.floor(r() * BAD_IDS.length)]! : encodeURIComponent(validParam(w, op, name, r, victim)),
        );
        if (r() < 0.1) path += pickSuffix(r);
        if (r() < 0.2) path += `?${pickQuery(r)}`;
        const headers: Record<string, string> = {};
        const pak = r() < 0.8 ? w.s.adminPak : paks[Math.floor(r() * paks.length)]!;
        headers.authorization = r() < 0.9 ? `Bearer ${pak}` : pak;
        let raw: string | undefined;
        const hasBody = op.method === 'POST' || op.method === 'PUT' || (op.method === 'DELETE' && r() < 0.2);
        if (hasBody) {
          const kind = r();
          if (kind < 0.5 && op.bodyFields.length > 0) {
            const body: Record<string, unknown> = {};
            for (const f of op.bodyFields) if (r() < 0.8) body[f] = hostileValue(r);
            if (r() < 0.2) body[STRINGS[Math.floor(r() * STRINGS.length)]!] = hostileValue(r);
            raw = JSON.stringify(body);
          } else if (kind < 0.6) raw = deepNesting(1_000 + Math.floor(r() * 20_000));
          else if (kind < 0.7) raw = '{"a":' + '1'.repeat(400) + '}';
          else if (kind < 0.8) raw = '{"broken": ';
          else if (kind < 0.85) raw = `"${'z'.repeat(1_100_000)}"`;
          else raw = JSON.stringify(hostileValue(r));
          const ct = r();
          headers['content-type'] = ct < 0.8 ? 'application/json' : ct < 0.9 ? 'text/plain' : 'application/json; charset=latin1';
        }
        requests += 1;
        let status: number;
        try {
          const res = await fetch(w.s.base + path, { method: op.method, headers, body: raw });
          status = res.status;
          await res.arrayBuffer();
        } catch (err) {
          failures.push(`${op.method} ${path.slice(0, 120)}: ${(err as Error).message}`);
          continue;
        }
        if (status >= 500) failures.push(`${op.method} ${path.slice(0, 120)} → ${status} (body ${raw?.slice(0, 80)})`);
        if (watcher.changed() && status >= 400) failures.push(`${op.method} ${path.slice(0, 120)} → ${status} but the database changed`);
        if (op.method === 'DELETE' && op.path.endsWith('{id}') && status === 204) {
          victim = (await w.s.createAgent()).agent.id;
          watcher.changed();
        }
      }
    }
    expect(failures, `seed ${seed}`).toEqual([]);
    Error.stackTraceLimit = stackTraceLimit;
    expect(requests).toBeGreaterThan(1200);
    watcher.close();
    // The server is still healthy after all that.
    expect((await w.s.call('GET', '/healthz', { pak: null })).status).toBe(200);
  }, 240_000);

  it('SQL-looking and unicode text is stored and returned literally', async () => {
    const w = await buildWorld();
    for (const name of SQLISH.concat(['🦀 crab', 'é'])) {
      const res = await w.s.call('POST', '/api/v1/agents', { body: { name, cluster_name: name, labels: [name.replace(/\s/g, '')].filter(Boolean) } });
      expect(res.status, name).toBe(201);
      const back = await w.s.call('GET', `/api/v1/agents/${res.body.agent.id}`);
      expect(back.body.name).toBe(name);
      const search = await w.s.call('GET', `/api/v1/agents/?name=${encodeURIComponent(name)}&cluster_name=${encodeURIComponent(name)}`);
      expect(search.body.id).toBe(res.body.agent.id);
    }
    expect((await w.s.call('GET', '/api/v1/agents')).body.length).toBe(2 + SQLISH.length + 2);
  });
});

function pickSuffix(r: () => number): string {
  const suffixes = ['/..', '/../..', '/%2e%2e/%2e%2e', '%2F..%2Fadmin', '/', '//', '/x'.repeat(500), `/${'y'.repeat(9000)}`, ';x=1', '#frag'];
  return suffixes[Math.floor(r() * suffixes.length)]!;
}

function pickQuery(r: () => number): string {
  const queries = [
    'wait=61',
    'wait=-1',
    'wait=1e3',
    'wait=0',
    'mode=full&mode=incremental',
    'limit=99999999999999999999',
    'limit=0',
    'since=abc',
    'since=0&wait=0',
    "name=' OR 1=1 --",
    'include_deleted=yes',
    'agent_id=%00',
    'a[b][c]=1',
    `x=${'q'.repeat(5000)}`,
  ];
  return queries[Math.floor(r() * queries.length)]!;
}
