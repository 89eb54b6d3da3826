/** Progressive delivery over HTTP: a wave-2 long poll wakes on wave 1's last SUCCESS; rollout status, promote, rollback, resume. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ChangeFeed } from '../../src/change-feed.js';
import { createServer } from '../../src/http/server.js';
import { generatePak, hashPak } from '../../src/http/pak.js';
import { openStore } from '../../src/store/open-store.js';
import type { RolloutStatus } from '../../src/store/rollout-records.js';
import type { Store } from '../../src/store/store.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function daemon(wrap: (store: Store) => Store = (s) => s) {
  const dir = mkdtempSync(join(tmpdir(), 'brokkr-rollout-http-'));
  const raw: Store = await openStore(join(dir, 'brokkr.db'));
  const store = wrap(raw);
  const adminPak = generatePak();
  await store.setAdminPakHash(hashPak(adminPak));
  const feed = new ChangeFeed();
  const app: FastifyInstance = await createServer({ store, feed, rateLimit: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => raw.close(), () => app.close());
  const port = (app.server.address() as { port: number }).port;
  const call = async <T>(method: string, path: string, pak = adminPak, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${pak}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, etag: res.headers.get('etag'), body: (res.status === 304 ? null : await res.json()) as T };
  };
  const g = await store.ensureGenerator('repo', null);
  await store.saveSyncTarget(g.id, { repo: dir, branch: 'main', root: '' });
  let cursor: string | null = null;
  let stackId: string | undefined;
  let n = 0;
  const commit = async (v: number) => {
    const sha = `c${++n}`;
    const r = await store.applyCommit({
      generatorId: g.id,
      commit: { sha, author_name: 'a', author_email: 'a@x', subject: sha, committed_at: new Date().toISOString() },
      expectedCursor: cursor,
      upserts: [{ id: stackId, name: 'web', path: 'web', description: null, labels: ['app'], annotations: {}, content: { yaml: `v: ${v}\n`, checksum: `v${v}` },
        rollout: { waves: [{ labels: ['canary'], annotations: {} }], gate: 'success', depends_on: [] } }],
      deletes: [],
      errors: [],
    });
    cursor = sha;
    stackId = r.created[0].stack_id;
    return r.created[0];
  };
  const agent = async (name: string, labels: string[]) => {
    const { body } = await call<{ agent: { id: string }; initial_pak: string }>('POST', '/agents', adminPak, { name, cluster_name: 'c', labels: ['app', ...labels] });
    return { id: body.agent.id, pak: body.initial_pak };
  };
  return { call, commit, agent, feed, stack: () => stackId! };
}

type Entry = { id: string; sequence_id: number };
/** The longest long poll the API allows (s). */
const WAIT_S = 60;

describe('rollouts over HTTP', () => {
  // The SUCCESS must WAKE the parked poll (not leave it to its deadline, where it would re-read
  // and answer the same): so it parks for the longest wait and must be answered before that runs
  // out. How fast the wake is, is measured by bench/rollout-waves.mjs (scenario 11).
  it('a wave-2 agent’s parked long poll is woken by wave 1’s last SUCCESS', async () => {
    const d = await daemon();
    const canary = await d.agent('canary-1', ['canary']);
    const prod = await d.agent('prod-1', []);
    const v1 = await d.commit(1);
    const first = await d.call<Entry[]>('GET', `/agents/${prod.id}/target-state`, prod.pak);
    expect(first.body).toEqual([]);
    const parkedAt = Date.now();
    const parked = d.call<Entry[]>('GET', `/agents/${prod.id}/target-state?wait=${WAIT_S}`, prod.pak, undefined, { 'if-none-match': first.etag! });
    // Parked for real (a fixed 300 ms was not always enough under load; the poll then came after
    // the SUCCESS and was answered at once, so the test did not test a parked poll).
    while (d.feed.waiting === 0) await new Promise((r) => setTimeout(r, 5));
    await d.call('POST', `/agents/${canary.id}/events`, canary.pak, { deployment_object_id: v1.object_id, event_type: 'DEPLOY', status: 'SUCCESS' });
    const answer = await parked;
    // Before its own deadline: woken (its deadline is the only other way out of the wait).
    expect(Date.now() - parkedAt).toBeLessThan(WAIT_S * 1000);
    expect(answer.status).toBe(200);
    expect(answer.body.map((e) => e.sequence_id)).toEqual([v1.sequence_id]);
  }, (WAIT_S + 15) * 1000);

  it('a release re-reads the target state of the released wave’s agents only; the others answer from their cached tag', async () => {
    const reads: string[] = [];
    const d = await daemon(
      (store) =>
        new Proxy(store, {
          get(target, prop) {
            const value = Reflect.get(target, prop, target);
            if (prop === 'targetStateIds') return (agentId: string, mode: 'incremental' | 'full') => (reads.push(agentId), target.targetStateIds(agentId, mode));
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }),
    );
    const c1 = await d.agent('canary-1', ['canary']);
    const c2 = await d.agent('canary-2', ['canary']);
    const prod = await d.agent('prod-1', []);
    const v1 = await d.commit(1);
    const tags = new Map<string, string>();
    for (const a of [c1, c2, prod]) tags.set(a.id, (await d.call<Entry[]>('GET', `/agents/${a.id}/target-state?mode=full`, a.pak)).etag!);
    const success = (a: { id: string; pak: string }) =>
      d.call('POST', `/agents/${a.id}/events`, a.pak, { deployment_object_id: v1.object_id, event_type: 'DEPLOY', status: 'SUCCESS' });
    await success(c1);
    expect((await d.call('GET', `/agents/${c1.id}/target-state?mode=full`, c1.pak, undefined, { 'if-none-match': tags.get(c1.id)! })).status).toBe(304);
    reads.length = 0;
    await success(c2); // wave 1 passed: wave 2 (prod-1) is released
    expect((await d.call('GET', `/agents/${c1.id}/target-state?mode=full`, c1.pak, undefined, { 'if-none-match': tags.get(c1.id)! })).status).toBe(304);
    const released = await d.call<Entry[]>('GET', `/agents/${prod.id}/target-state?mode=full`, prod.pak, undefined, { 'if-none-match': tags.get(prod.id)! });
    expect(released.body.map((e) => e.sequence_id)).toEqual([v1.sequence_id]);
    expect(reads).toEqual([prod.id]); // canary-1's tag still held: no query for it
  });

  it('status shows the halt; promote releases wave 2; rollback pins every wave and pauses; resume rolls the newest again', async () => {
    const d = await daemon();
    const canary = await d.agent('canary-1', ['canary']);
    const prod = await d.agent('prod-1', []);
    const v1 = await d.commit(1);
    await d.call('POST', `/agents/${canary.id}/events`, canary.pak, { deployment_object_id: v1.object_id, event_type: 'DEPLOY', status: 'SUCCESS' });
    const v2 = await d.commit(2);
    await d.call('POST', `/agents/${canary.id}/events`, canary.pak, { deployment_object_id: v2.object_id, event_type: 'DEPLOY', status: 'FAILURE', message: 'exit 1' });
    let status = (await d.call<RolloutStatus>('GET', `/stacks/${d.stack()}/rollout`)).body;
    expect(status).toMatchObject({ halted: true, halt_reason: 'wave 1: agent canary-1 reported FAILURE: exit 1' });
    expect(status.waves.map((w) => [w.released?.sequence_id, w.agents.map((a) => `${a.name}:${a.gate}`)])).toEqual([
      [v2.sequence_id, ['canary-1:failed']],
      [v1.sequence_id, ['prod-1:pending']],
    ]);
    expect((await d.call('POST', `/stacks/${d.stack()}/rollout/promote`, prod.pak)).status).toBe(403);
    status = (await d.call<RolloutStatus>('POST', `/stacks/${d.stack()}/rollout/promote`)).body;
    expect(status.halted).toBe(false);
    expect((await d.call<Entry[]>('GET', `/agents/${prod.id}/target-state?mode=full`, prod.pak)).body.map((e) => e.sequence_id)).toEqual([v2.sequence_id]);

    const rolled = await d.call<{ object: Entry; rollout: RolloutStatus }>('POST', `/stacks/${d.stack()}/rollback`, undefined, { to_sequence: v1.sequence_id });
    expect(rolled.status).toBe(201);
    expect(rolled.body.rollout).toMatchObject({ paused: true, rollback: { source_sequence_id: v1.sequence_id, replaced_sequence_id: v2.sequence_id, actor: 'admin' } });
    const v3 = await d.commit(3);
    for (const a of [canary, prod]) {
      expect((await d.call<Entry[]>('GET', `/agents/${a.id}/target-state?mode=full`, a.pak)).body.map((e) => e.sequence_id)).toEqual([rolled.body.object.sequence_id]);
    }
    await d.call('POST', `/stacks/${d.stack()}/rollout/resume`);
    expect((await d.call<Entry[]>('GET', `/agents/${canary.id}/target-state?mode=full`, canary.pak)).body.map((e) => e.sequence_id)).toEqual([v3.sequence_id]);
    expect((await d.call<Entry[]>('GET', `/agents/${prod.id}/target-state?mode=full`, prod.pak)).body.map((e) => e.sequence_id)).toEqual([rolled.body.object.sequence_id]);
    expect((await d.call('POST', `/stacks/${d.stack()}/rollback`, undefined, { to_sequence: 999 })).status).toBe(404);
  });
});
