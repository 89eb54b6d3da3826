/** The dashboard plugin on the real server and a real store: static files, CSP, admin-only JSON, the delivery matrix. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ChangeFeed } from '../../src/change-feed.js';
import type { DeliveryMatrix } from '../../src/http/dashboard-server/delivery-matrix.js';
import { MatrixSource } from '../../src/http/dashboard-server/matrix-source.js';
import { dashboardPlugin } from '../../src/http/dashboard-server/plugin.js';
import { generatePak, hashPak } from '../../src/http/pak.js';
import { createServer } from '../../src/http/server.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { buildFleet } from './matrix-fixture.js';

let dir: string;
let store: Store;
let feed: ChangeFeed;
let app: FastifyInstance;
let adminPak: string;
let generatorId: string;
let cursor: string | null;
let commits = 0;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'brokkr-dash-'));
  store = await openStore(join(dir, 'brokkr.db'));
  feed = new ChangeFeed();
  adminPak = generatePak();
  await store.setAdminPakHash(hashPak(adminPak));
  generatorId = (await store.ensureGenerator('git:test', null)).id;
  await store.saveSyncTarget(generatorId, { repo: '/repo', branch: 'main', root: '' });
  cursor = null;
  app = await createServer({ store, feed, rateLimit: false, plugins: [dashboardPlugin({ store, feed })] });
});

afterEach(async () => {
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Apply one commit straight to the store (what the syncer does), then notify like the syncer. */
async function commit(upserts: { name: string; labels: string[]; yaml?: string; id?: string }[], deletes: string[] = []) {
  const sha = (++commits).toString(16).padStart(40, '0');
  const result = await store.applyCommit({
    generatorId,
    commit: { sha, author_name: 'Ann', author_email: 'ann@example.com', subject: `commit ${commits}`, committed_at: new Date().toISOString() },
    expectedCursor: cursor,
    upserts: upserts.map((u) => ({
      id: u.id,
      name: u.name,
      path: `stacks/${u.name}`,
      description: null,
      labels: u.labels,
      annotations: {},
      content: u.yaml === undefined ? undefined : { yaml: u.yaml, checksum: createHash('sha256').update(u.yaml).digest('hex') },
    })),
    deletes,
    errors: [],
  });
  cursor = sha;
  feed.notify();
  return result;
}

async function agent(name: string, label: string): Promise<{ id: string; pak: string }> {
  const pak = generatePak();
  const a = await store.createAgent({ name, cluster_name: 'eu', pak_hash: hashPak(pak) });
  await store.addLabel('agent', a.id, label);
  feed.notify();
  return { id: a.id, pak };
}

async function report(agentId: string, objectId: string, status: 'SUCCESS' | 'FAILURE', message: string | null = null, type = 'DEPLOY') {
  await store.createEvent({ agent_id: agentId, deployment_object_id: objectId, event_type: type, status, message });
  feed.notify();
}

async function get(url: string, pak: string | null = adminPak) {
  return app.inject({ method: 'GET', url, headers: pak ? { authorization: `Bearer ${pak}` } : {} });
}

/** The matrix as { stack: { agent: state } } (absent agents left out), plus the raw page. */
async function matrix(query = '') {
  const res = await get(`/api/v1/dashboard/matrix${query}`);
  expect(res.statusCode).toBe(200);
  const page = res.json();
  const states: Record<string, Record<string, string>> = {};
  for (const row of page.rows) {
    states[row.stack.name] = {};
    row.cells.forEach((cell: { state: string } | null, i: number) => {
      if (cell) states[row.stack.name][page.agents[i].name] = cell.state;
    });
  }
  return { page, states };
}

describe('static dashboard files', () => {
  it('serves the page at / with a self-only content security policy', async () => {
    const res = await get('/', null);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.body).toContain('/ui/main.js');
  });

  it('serves scripts and styles with their content types and answers 304 to a matching ETag', async () => {
    const js = await get('/ui/main.js', null);
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    const css = await get('/ui/style.css', null);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    const again = await app.inject({ method: 'GET', url: '/ui/main.js', headers: { 'if-none-match': String(js.headers.etag) } });
    expect(again.statusCode).toBe(304);
  });

  it('serves nothing outside the built files', async () => {
    for (const url of ['/ui/../package.json', '/ui/%2e%2e/%2e%2e/package.json', '/ui/main.ts', '/ui/nope.js']) {
      const res = await get(url, null);
      expect(res.statusCode, url).toBe(404);
      expect(res.json().code).toBe('not_found');
    }
  });
});

describe('admin-only dashboard routes', () => {
  it('answer 401 without a PAK, 403 for an agent PAK and 200 for the admin PAK', async () => {
    const a = await agent('edge', 'prod');
    for (const url of ['/api/v1/dashboard/matrix', '/api/v1/dashboard/agents']) {
      expect((await get(url, null)).statusCode).toBe(401);
      expect((await get(url, 'brk_unknown')).statusCode).toBe(401);
      const forbidden = await get(url, a.pak);
      expect(forbidden.statusCode).toBe(403);
      expect(forbidden.json().code).toBe('forbidden');
      expect((await get(url)).statusCode).toBe(200);
    }
  });

  it('lists agents with labels and heartbeat age, never their PAK hash', async () => {
    const a = await agent('edge', 'prod');
    await store.recordHeartbeat(a.id, { k8s_reachable: true, k8s_api_latency_ms: 7 });
    await agent('quiet', 'staging');
    const res = await get('/api/v1/dashboard/agents');
    const body = res.json();
    expect(res.body).not.toContain('pak_hash');
    const byName = Object.fromEntries(body.agents.map((x: { name: string }) => [x.name, x]));
    expect(byName.edge).toMatchObject({ labels: ['prod'], stale: false, cluster_name: 'eu' });
    expect(byName.edge.heartbeat_age_seconds).toBeGreaterThanOrEqual(0);
    expect(byName.quiet).toMatchObject({ labels: ['staging'], stale: true, heartbeat_age_seconds: null });
    // brokkr's heartbeat report, as the agent last sent it.
    expect(byName.edge).toMatchObject({ k8s_reachable: true, k8s_api_latency_ms: 7 });
    expect(byName.quiet).toMatchObject({ k8s_reachable: null, k8s_api_latency_ms: null, k8s_reported_at: null });
  });

  it('rejects bad paging parameters with a message naming the parameter', async () => {
    for (const [query, name] of [['?limit=0', 'limit'], ['?offset=-1', 'offset'], ['?limit=abc', 'limit'], ['?state=green', 'state']]) {
      const res = await get(`/api/v1/dashboard/matrix${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.json().message).toContain(name);
    }
  });
});

describe('the delivery matrix', () => {
  it('shows applied, failed (with message), pending and not associated cells', async () => {
    const { created } = await commit([
      { name: 'web', labels: ['prod'], yaml: 'a: 1\n' },
      { name: 'db', labels: ['staging'], yaml: 'b: 1\n' },
    ]);
    const web = created.find((c) => c.name === 'web')!;
    const one = await agent('one', 'prod');
    const two = await agent('two', 'prod');
    await agent('three', 'staging');
    await report(one.id, web.object_id, 'SUCCESS');
    await report(two.id, web.object_id, 'SUCCESS');
    await report(two.id, web.object_id, 'FAILURE', 'kubectl: connection refused');

    const { page, states } = await matrix();
    expect(states).toEqual({ db: { three: 'pending' }, web: { one: 'applied', two: 'failed' } });
    const column = page.agents.findIndex((a: { name: string }) => a.name === 'two');
    const failed = page.rows.find((r: { stack: { name: string } }) => r.stack.name === 'web').cells[column];
    expect(failed).toMatchObject({ state: 'failed', message: 'kubectl: connection refused' });
  });

  it('a new object turns applied cells back to pending', async () => {
    const first = await commit([{ name: 'web', labels: ['prod'], yaml: 'v: 1\n' }]);
    const one = await agent('one', 'prod');
    await report(one.id, first.created[0].object_id, 'SUCCESS');
    expect((await matrix()).states.web.one).toBe('applied');
    await commit([{ id: first.created[0].stack_id, name: 'web', labels: ['prod'], yaml: 'v: 2\n' }]);
    expect((await matrix()).states.web.one).toBe('pending');
  });

  it('a removed stack shows deleting until each agent confirms, then leaves the board', async () => {
    const { created } = await commit([{ name: 'web', labels: ['prod'], yaml: 'v: 1\n' }]);
    const one = await agent('one', 'prod');
    const two = await agent('two', 'prod');
    const { deleted } = await commit([], [created[0].stack_id]);
    const marker = deleted[0].marker_id;

    const before = await matrix();
    expect(before.states.web).toEqual({ one: 'deleting', two: 'deleting' });
    expect(before.page.rows[0].stack).toMatchObject({ deleted: true, is_deletion_marker: true });

    await report(one.id, marker, 'SUCCESS', null, 'DELETE');
    expect((await matrix()).states.web).toEqual({ one: 'deleted', two: 'deleting' });
    await report(two.id, marker, 'SUCCESS', null, 'DELETE');
    expect((await matrix()).states).toEqual({});
  });

  it('pages over stacks and filters by name and by state', async () => {
    await commit(Array.from({ length: 7 }, (_, i) => ({ name: `s${i}`, labels: ['prod'], yaml: `i: ${i}\n` })));
    const one = await agent('one', 'prod');
    const s3 = (await store.listStacks()).find((s) => s.name === 's3')!;
    await report(one.id, s3.latest_object!.id, 'FAILURE', 'nope');

    const first = await matrix('?limit=3');
    expect(first.page).toMatchObject({ total: 7, offset: 0, limit: 3 });
    expect(Object.keys(first.states)).toEqual(['s0', 's1', 's2']);
    expect(Object.keys((await matrix('?limit=3&offset=6')).states)).toEqual(['s6']);
    expect(Object.keys((await matrix('?q=S5')).states)).toEqual(['s5']);
    const failing = await matrix('?state=failed');
    expect(failing.page.total).toBe(1);
    expect(failing.states).toEqual({ s3: { one: 'failed' } });
    expect(failing.page.counts).toMatchObject({ failed: 1, pending: 6 });
  });

  it('is computed once per change-feed version and again after a change', async () => {
    await commit([{ name: 'web', labels: ['prod'], yaml: 'v: 1\n' }]);
    const a = (await matrix()).page;
    const b = (await matrix()).page;
    expect(b.computed_at).toBe(a.computed_at);
    expect(b.version).toBe(a.version);
    await agent('late', 'prod');
    const c = (await matrix()).page;
    expect(c.version).toBeGreaterThan(a.version);
    expect(c.agents.map((x: { name: string }) => x.name)).toEqual(['late']);
  });
});

describe('the incremental matrix source', () => {
  it('stays equal to a matrix computed from scratch through events, label changes, commits and deletions', async () => {
    const fleet = await buildFleet(store, { stacks: 12, agents: 4, report: (a, s) => (s % 3 === 0 ? null : (a + s) % 4 === 0 ? 'FAILURE' : 'SUCCESS') });
    cursor = 'a'.repeat(40);
    generatorId = (await store.ensureGenerator('git:fleet', null)).id;
    const live = new MatrixSource(store, feed);
    const fresh = async () => strip(await new MatrixSource(store, new ChangeFeed()).get());
    const strip = (m: DeliveryMatrix) => ({ agents: m.agents, rows: m.rows, counts: m.counts });
    const check = async () => {
      feed.notify();
      expect(strip(await live.get())).toEqual(await fresh());
    };
    await check();

    // Agent reports, including a failure after a success and a success after a failure.
    await store.createEvent({ agent_id: fleet.agentIds[1], deployment_object_id: fleet.objectIds[1], event_type: 'DEPLOY', status: 'FAILURE', message: 'later failure' });
    await store.createEvent({ agent_id: fleet.agentIds[0], deployment_object_id: fleet.objectIds[4], event_type: 'DEPLOY', status: 'SUCCESS', message: null });
    await check();
    // Association changes: a label taken away, a target added.
    await store.removeLabel('agent', fleet.agentIds[2], 'all');
    await store.addTarget(fleet.agentIds[2], fleet.stackIds[5]);
    await check();
    // A new object for one stack, a removed stack, and reports on both.
    const stacks = await store.listStacks();
    const s7 = stacks.find((s) => s.id === fleet.stackIds[7])!;
    const { created } = await commit([{ id: s7.id, name: s7.name, labels: ['all'], yaml: 'changed: true\n' }], [fleet.stackIds[8]]);
    await check();
    await report(fleet.agentIds[3], created[0]?.object_id ?? (await store.getStack(s7.id))!.latest_object!.id, 'SUCCESS');
    await check();
  });

  it('pages 1,000 stacks × 100 agents', async () => {
    await buildFleet(store, { stacks: 1000, agents: 100, report: () => null });
    const { page } = await matrix('?limit=50&offset=950');
    expect(page.total).toBe(1000);
    expect(page.agents).toHaveLength(100);
    expect(page.rows).toHaveLength(50);
    expect(page.rows[49].stack.name).toBe('stack-0999');
    expect(page.rows.every((r: { cells: unknown[] }) => r.cells.length === 100)).toBe(true);
    expect(page.counts.pending).toBe(100_000);
  });
});
