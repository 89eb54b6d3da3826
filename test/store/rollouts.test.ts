/** Release rules of progressive delivery (SPEC §10) on every engine: waves, gates, halts, dependsOn, admin actions, rollback. */
import { describe, expect, it } from 'vitest';
import type { RolloutConfig } from '../../src/store/rollout-records.js';
import type { StoreChange, StoreEngine } from '../../src/store/store.js';
import { ENGINES, openEngineStore, committer } from './store-fixture.js';

const CANARY: RolloutConfig = { waves: [{ labels: ['canary'], annotations: {} }, { labels: ['prod'], annotations: {} }], gate: 'success', depends_on: [] };

async function world(engine: StoreEngine) {
  const { store } = await openEngineStore(engine);
  const { apply } = await committer(store);
  const ids = new Map<string, string>();
  /** Commit content `v` of stack `name` (created on first use) with these rollout settings. */
  const commit = async (name: string, v: number, rollout: RolloutConfig | null = CANARY) => {
    const r = await apply({
      upserts: [{ id: ids.get(name), name, path: name, description: null, labels: ['app'], annotations: {}, content: { yaml: `${name}: ${v}\n`, checksum: `${name}${v}` }, rollout }],
    });
    ids.set(name, r.created[0]!.stack_id);
    return r.created[0]!;
  };
  const agent = async (name: string, labels: string[]) => {
    const a = await store.createAgent({ name, cluster_name: 'c', pak_hash: `hash-${name}` });
    for (const l of ['app', ...labels]) await store.addLabel('agent', a.id, l);
    return a;
  };
  const seqs = async (agentId: string, mode: 'incremental' | 'full' = 'full') => (await store.targetStateIds(agentId, mode)).map((e) => e.sequence_id);
  const report = (agentId: string, objectId: string, status = 'SUCCESS', message: string | null = null) =>
    store.createEvent({ agent_id: agentId, deployment_object_id: objectId, event_type: 'DEPLOY', status, message });
  return { store, apply, commit, agent, seqs, report, ids };
}

describe.each(ENGINES)('rollout waves (%s)', (engine) => {
  it('a new object reaches wave 1 at once and wave 2 only when every wave-1 agent reported SUCCESS', async () => {
    const w = await world(engine);
    const [c1, c2, p1, other] = [await w.agent('c1', ['canary']), await w.agent('c2', ['canary']), await w.agent('p1', ['prod']), await w.agent('x', [])];
    const v1 = await w.commit('web', 1);
    // A brand-new stack: only wave 1 sees it.
    expect(await w.seqs(c1.id)).toEqual([v1.sequence_id]);
    expect(await w.seqs(p1.id)).toEqual([]);
    await w.report(c1.id, v1.object_id);
    expect(await w.seqs(p1.id)).toEqual([]);
    const changes: StoreChange[] = [];
    w.store.onChange((c) => changes.push(c));
    await w.report(c2.id, v1.object_id);
    // The release is announced to wave 2's agents only (other agents keep their cached state).
    expect(changes).toEqual([
      { kind: 'agents', agentIds: [p1.id] },
      { kind: 'agent', agentId: c2.id },
    ]);
    expect(await w.seqs(p1.id)).toEqual([v1.sequence_id]);
    expect(await w.seqs(other.id)).toEqual([]); // the implicit last wave waits for prod
    await w.report(p1.id, v1.object_id);
    expect(await w.seqs(other.id)).toEqual([v1.sequence_id]);

    // The next object: wave 2 keeps v1 until wave 1 passes; incremental leaves out what it applied.
    const v2 = await w.commit('web', 2);
    expect(await w.seqs(c1.id)).toEqual([v2.sequence_id]);
    expect(await w.seqs(p1.id)).toEqual([v1.sequence_id]);
    expect(await w.seqs(p1.id, 'incremental')).toEqual([]);
    const status = await w.store.getRollout(w.ids.get('web')!);
    expect(status.waves.map((x) => x.released?.sequence_id)).toEqual([v2.sequence_id, v1.sequence_id, v1.sequence_id]);
    expect(status.waves.map((x) => x.agents.map((a) => a.name))).toEqual([['c1', 'c2'], ['p1'], ['x']]);
  });

  it('a FAILURE in a released wave halts; a newer commit supersedes from wave 1; promote releases the next wave', async () => {
    const w = await world(engine);
    const c1 = await w.agent('c1', ['canary']);
    const p1 = await w.agent('p1', ['prod']);
    const v1 = await w.commit('web', 1);
    await w.report(c1.id, v1.object_id);
    await w.report(p1.id, v1.object_id);
    const v2 = await w.commit('web', 2);
    await w.report(c1.id, v2.object_id, 'FAILURE', 'exit 1: boom');
    let status = await w.store.getRollout(w.ids.get('web')!);
    expect(status.halted).toBe(true);
    expect(status.halt_reason).toMatch(/wave 1: agent c1 reported FAILURE: exit 1: boom/);
    await w.report(c1.id, v2.object_id); // a later SUCCESS does not lift the halt
    expect(await w.seqs(p1.id)).toEqual([v1.sequence_id]);

    const v3 = await w.commit('web', 3);
    status = await w.store.getRollout(w.ids.get('web')!);
    expect(status.halted).toBe(false);
    expect(await w.seqs(c1.id)).toEqual([v3.sequence_id]);
    expect(await w.seqs(p1.id)).toEqual([v1.sequence_id]);
    await w.report(c1.id, v3.object_id, 'FAILURE', 'again');
    status = await w.store.rolloutAction(w.ids.get('web')!, 'promote');
    expect(status.halted).toBe(false);
    expect(await w.seqs(p1.id)).toEqual([v3.sequence_id]);
  });

  it('pause holds new objects back; resume releases the newest from wave 1', async () => {
    const w = await world(engine);
    const c1 = await w.agent('c1', ['canary']);
    const v1 = await w.commit('web', 1);
    await w.store.rolloutAction(w.ids.get('web')!, 'pause');
    const v2 = await w.commit('web', 2);
    expect(await w.seqs(c1.id)).toEqual([v1.sequence_id]);
    expect((await w.store.getRollout(w.ids.get('web')!)).paused).toBe(true);
    await w.store.rolloutAction(w.ids.get('web')!, 'resume');
    expect(await w.seqs(c1.id)).toEqual([v2.sequence_id]);
  });

  it('rollback makes a new object with the old content for every wave, records who, and pauses', async () => {
    const w = await world(engine);
    const c1 = await w.agent('c1', ['canary']);
    const p1 = await w.agent('p1', ['prod']);
    const v1 = await w.commit('web', 1);
    await w.report(c1.id, v1.object_id);
    await w.report(p1.id, v1.object_id);
    const v2 = await w.commit('web', 2);
    const { object, rollout } = await w.store.rollback(w.ids.get('web')!, v1.sequence_id, 'admin');
    expect(object.sequence_id).toBeGreaterThan(v2.sequence_id);
    expect((await w.store.getObject(object.id))!.yaml_content).toBe('web: 1\n');
    expect(rollout.paused).toBe(true);
    expect(rollout.rollback).toMatchObject({ source_sequence_id: v1.sequence_id, replaced_sequence_id: v2.sequence_id, actor: 'admin' });
    expect(await w.seqs(c1.id)).toEqual([object.sequence_id]);
    expect(await w.seqs(p1.id)).toEqual([object.sequence_id]);
    const v3 = await w.commit('web', 3);
    expect(await w.seqs(c1.id)).toEqual([object.sequence_id]);
    await w.store.rolloutAction(w.ids.get('web')!, 'resume');
    expect(await w.seqs(c1.id)).toEqual([v3.sequence_id]);
    expect(await w.seqs(p1.id)).toEqual([object.sequence_id]);
  });

  it('a stack without rollout settings is untouched by any of it (no row, every agent at once)', async () => {
    const w = await world(engine);
    const p1 = await w.agent('p1', ['prod']);
    const v1 = await w.commit('plain', 1, null);
    expect(await w.seqs(p1.id)).toEqual([v1.sequence_id]);
    const status = await w.store.getRollout(w.ids.get('plain')!);
    expect(status.waves).toHaveLength(1);
    expect(status.waves[0].released?.sequence_id).toBe(v1.sequence_id);
    expect((await w.store.listSyncedStacks((await w.store.listGenerators())[0].id))[0].rollout).toBeUndefined();
  });
});

describe.each(ENGINES)('dependsOn (%s)', (engine) => {
  it('a stack reaches an agent only after its dependency passed the gate there', async () => {
    const w = await world(engine);
    const a = await w.agent('a', []);
    const b = await w.agent('b', []);
    const db1 = await w.commit('postgres', 1, null);
    const app1 = await w.commit('api', 1, { waves: [], gate: 'success', depends_on: ['postgres'] });
    expect(await w.seqs(a.id)).toEqual([db1.sequence_id]);
    await w.report(a.id, db1.object_id);
    expect(await w.seqs(a.id)).toEqual([app1.sequence_id, db1.sequence_id]);
    expect(await w.seqs(b.id)).toEqual([db1.sequence_id]);
    await w.report(a.id, app1.object_id);
    // A new dependency object holds the dependant on what the agent already applied.
    const db2 = await w.commit('postgres', 2, null);
    const app2 = await w.commit('api', 2, { waves: [], gate: 'success', depends_on: ['postgres'] });
    expect(await w.seqs(a.id)).toEqual([db2.sequence_id, app1.sequence_id]);
    expect(await w.seqs(a.id, 'incremental')).toEqual([db2.sequence_id]);
    await w.report(a.id, db2.object_id);
    expect(await w.seqs(a.id, 'incremental')).toEqual([app2.sequence_id]);
  });
});
