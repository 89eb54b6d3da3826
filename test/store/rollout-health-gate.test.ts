/** `gate: healthy` (SPEC §10) on every engine: a health report re-evaluates the gate in its own transaction and announces a release as an event does. */
import { describe, expect, it } from 'vitest';
import type { RolloutConfig } from '../../src/store/rollout-records.js';
import type { StoreChange, StoreEngine } from '../../src/store/store.js';
import { committer, ENGINES, openEngineStore } from './store-fixture.js';

const HEALTHY_GATE: RolloutConfig = { waves: [{ labels: ['canary'], annotations: {} }], gate: 'healthy', depends_on: [] };

async function world(engine: StoreEngine, rollout: RolloutConfig = HEALTHY_GATE) {
  const { store } = await openEngineStore(engine);
  const { apply } = await committer(store);
  let stackId: string | undefined;
  const commit = async (v: number) => {
    const r = await apply({
      upserts: [{ id: stackId, name: 'web', path: 'web', description: null, labels: ['app'], annotations: {}, content: { yaml: `web: ${v}\n`, checksum: `web${v}` }, rollout }],
    });
    stackId = r.created[0]!.stack_id;
    return r.created[0]!;
  };
  const agent = async (name: string, labels: string[]) => {
    const a = await store.createAgent({ name, cluster_name: 'c', pak_hash: `hash-${name}` });
    for (const l of ['app', ...labels]) await store.addLabel('agent', a.id, l);
    return a;
  };
  const seqs = async (agentId: string) => (await store.targetStateIds(agentId, 'full')).map((e) => e.sequence_id);
  const success = (agentId: string, objectId: string) =>
    store.createEvent({ agent_id: agentId, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null });
  const health = (agentId: string, objectId: string, status: 'healthy' | 'degraded' | 'failing', summary: string | null = null) =>
    store.reportHealth(agentId, [{ deployment_object_id: objectId, status, summary, checked_at: null }]);
  return { store, commit, agent, seqs, success, health, stack: () => stackId! };
}

describe.each(ENGINES)('gate: healthy (%s)', (engine) => {
  it('SUCCESS alone does not pass the gate; the healthy report releases the next wave in its own write and announces it to the agents of that wave', async () => {
    const w = await world(engine);
    const canary = await w.agent('canary-1', ['canary']);
    const rest = await w.agent('rest-1', []);
    const v1 = await w.commit(1);
    expect(await w.seqs(rest.id)).toEqual([]);
    await w.success(canary.id, v1.object_id);
    expect(await w.seqs(rest.id)).toEqual([]);
    expect((await w.store.getRollout(w.stack())).waves[0]!.agents[0]!.gate).toBe('pending');

    await w.health(canary.id, v1.object_id, 'degraded');
    expect(await w.seqs(rest.id)).toEqual([]);

    const changes: StoreChange[] = [];
    w.store.onChange((c) => changes.push(c));
    await w.health(canary.id, v1.object_id, 'healthy');
    expect(changes).toEqual([
      { kind: 'agents', agentIds: [rest.id] },
      { kind: 'agent', agentId: canary.id },
    ]);
    expect(await w.seqs(rest.id)).toEqual([v1.sequence_id]);
    const status = await w.store.getRollout(w.stack());
    expect(status.waves.map((x) => x.released?.sequence_id)).toEqual([v1.sequence_id, v1.sequence_id]);
    expect(status.waves[0]!.agents[0]!.gate).toBe('passed');
  });

  it('a failing health report of a released wave halts; the next wave stays on the previous object', async () => {
    const w = await world(engine);
    const canary = await w.agent('canary-1', ['canary']);
    const rest = await w.agent('rest-1', []);
    const v1 = await w.commit(1);
    await w.success(canary.id, v1.object_id);
    await w.health(canary.id, v1.object_id, 'healthy');
    const v2 = await w.commit(2);
    await w.success(canary.id, v2.object_id);
    const changes: StoreChange[] = [];
    w.store.onChange((c) => changes.push(c));
    await w.health(canary.id, v2.object_id, 'failing', 'readiness probe failing');
    // A halt moves no agent's target state: only the reporter's change is announced.
    expect(changes).toEqual([{ kind: 'agent', agentId: canary.id }]);
    const status = await w.store.getRollout(w.stack());
    expect(status.halted).toBe(true);
    expect(status.halt_reason).toBe('wave 1: agent canary-1 reported failing health');
    // Healthy again later: the halt is sticky, as after a FAILURE.
    await w.health(canary.id, v2.object_id, 'healthy');
    expect(await w.seqs(rest.id)).toEqual([v1.sequence_id]);
    expect((await w.store.getRollout(w.stack())).halted).toBe(true);
  });

  it('with gate: success a health report changes no rollout and announces only the agent', async () => {
    const w = await world(engine, { ...HEALTHY_GATE, gate: 'success' });
    const canary = await w.agent('canary-1', ['canary']);
    const rest = await w.agent('rest-1', []);
    const v1 = await w.commit(1);
    const changes: StoreChange[] = [];
    w.store.onChange((c) => changes.push(c));
    await w.health(canary.id, v1.object_id, 'failing');
    expect(changes).toEqual([{ kind: 'agent', agentId: canary.id }]);
    expect((await w.store.getRollout(w.stack())).halted).toBe(false);
    await w.success(canary.id, v1.object_id);
    expect(await w.seqs(rest.id)).toEqual([v1.sequence_id]);
  });
});
