/**
 * Rollout gates re-checked when agents move between waves (issue 14, F11), on every engine: a
 * label, annotation or target change, or a deleted agent, releases (or halts) at once; and an
 * event is judged against the members of the waves as they are now.
 */
import { describe, expect, it } from 'vitest';
import type { RolloutConfig } from '../../src/store/rollout-records.js';
import type { StoreChange, StoreEngine } from '../../src/store/store.js';
import { ENGINES, openEngineStore, committer } from './store-fixture.js';

const CANARY: RolloutConfig = { waves: [{ labels: ['canary'], annotations: {} }, { labels: ['prod'], annotations: {} }], gate: 'success', depends_on: [] };

async function world(engine: StoreEngine, rollout: RolloutConfig = CANARY) {
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
  const agent = async (name: string, labels: string[], withApp = true) => {
    const a = await store.createAgent({ name, cluster_name: 'c', pak_hash: `hash-${name}` });
    for (const l of withApp ? ['app', ...labels] : labels) await store.addLabel('agent', a.id, l);
    return a;
  };
  const seqs = async (agentId: string) => (await store.targetStateIds(agentId, 'full')).map((e) => e.sequence_id);
  const report = (agentId: string, objectId: string, status = 'SUCCESS', message: string | null = null) =>
    store.createEvent({ agent_id: agentId, deployment_object_id: objectId, event_type: 'DEPLOY', status, message });
  const released = async () => (await store.getRollout(stackId!)).waves.map((w) => w.released?.sequence_id ?? null);
  const changes: StoreChange[] = [];
  store.onChange((c) => changes.push(c));
  return { store, commit, agent, seqs, report, released, changes, stack: () => stackId! };
}

describe.each(ENGINES)('rollout membership changes (%s)', (engine) => {
  it('removing the label of the last wave-1 agent that has not passed releases wave 2 at once, announced to wave 2', async () => {
    const w = await world(engine);
    const c1 = await w.agent('c1', ['canary']);
    const c2 = await w.agent('c2', ['canary']);
    const p1 = await w.agent('p1', ['prod']);
    const v1 = await w.commit(1);
    await w.report(c1.id, v1.object_id);
    await w.report(c2.id, v1.object_id, 'STARTED');
    expect(await w.seqs(p1.id)).toEqual([]);

    w.changes.length = 0;
    await w.store.removeLabel('agent', c2.id, 'canary');
    expect(await w.seqs(p1.id)).toEqual([v1.sequence_id]);
    expect(await w.released()).toEqual([v1.sequence_id, v1.sequence_id, null]); // c2 is in the implicit wave now
    expect(w.changes).toContainEqual({ kind: 'agents', agentIds: [p1.id] });
  });

  it('an agent that joins wave 1 holds wave 2 back until it passed too; a wave-2 success does not skip a wave-1 newcomer', async () => {
    const w = await world(engine);
    const c1 = await w.agent('c1', ['canary']);
    const p1 = await w.agent('p1', ['prod']);
    const x = await w.agent('x', []);
    const v1 = await w.commit(1);
    const n1 = await w.agent('n1', ['canary']); // joins wave 1 before c1 reports
    await w.report(c1.id, v1.object_id);
    expect(await w.seqs(p1.id)).toEqual([]);
    await w.report(n1.id, v1.object_id);
    expect(await w.seqs(p1.id)).toEqual([v1.sequence_id]);

    // Wave 2 is released; a newcomer joins wave 1. Wave 2 passing must not release wave 3 past it.
    const n2 = await w.agent('n2', ['canary']);
    await w.report(p1.id, v1.object_id);
    expect(await w.seqs(x.id)).toEqual([]);
    w.changes.length = 0;
    await w.report(n2.id, v1.object_id);
    expect(await w.seqs(x.id)).toEqual([v1.sequence_id]);
    expect(w.changes).toContainEqual({ kind: 'agents', agentIds: [x.id] });
  });

  it('a FAILURE reported outside the released waves halts once its agent is moved into one', async () => {
    const w = await world(engine);
    const c1 = await w.agent('c1', ['canary']);
    const x = await w.agent('x', []);
    const v1 = await w.commit(1);
    await w.report(x.id, v1.object_id, 'FAILURE', 'applied too early');
    expect((await w.store.getRollout(w.stack())).halted).toBe(false); // its wave is not released: no halt
    await w.store.addLabel('agent', x.id, 'canary');
    const status = await w.store.getRollout(w.stack());
    expect(status.halted).toBe(true);
    expect(status.halt_reason).toBe('wave 1: agent x reported FAILURE: applied too early');
    await w.report(c1.id, v1.object_id);
    expect(await w.released()).toEqual([v1.sequence_id, null, null]);
  });

  it('removing a target, an annotation or the agent itself re-checks the gates at once', async () => {
    const rollout: RolloutConfig = { waves: [{ labels: [], annotations: { ring: '0' } }], gate: 'success', depends_on: [] };
    const w = await world(engine, rollout);
    const ring0 = async (name: string, withApp = true) => {
      const a = await w.agent(name, [], withApp);
      await w.store.setAnnotation('agent', a.id, 'ring', '0');
      return a;
    };
    const r0 = await ring0('r0');
    const byTarget = await ring0('t0', false); // reaches the stack by its target only
    const byAnnotation = await ring0('a0');
    const doomed = await ring0('d0');
    const rest = await w.agent('rest', []);
    const v1 = await w.commit(1);
    await w.store.addTarget(byTarget.id, w.stack());
    for (const a of [r0, byAnnotation, doomed]) await w.report(a.id, v1.object_id);
    expect(await w.released()).toEqual([v1.sequence_id, null]);
    await w.store.removeTarget(byTarget.id, w.stack());
    expect(await w.released()).toEqual([v1.sequence_id, v1.sequence_id]);

    const v2 = await w.commit(2);
    for (const a of [r0, doomed]) await w.report(a.id, v2.object_id);
    expect(await w.released()).toEqual([v2.sequence_id, v1.sequence_id]);
    await w.store.removeAnnotation('agent', byAnnotation.id, 'ring'); // a0 moves to the implicit wave
    expect(await w.released()).toEqual([v2.sequence_id, v2.sequence_id]);

    const v3 = await w.commit(3);
    await w.report(r0.id, v3.object_id);
    expect(await w.seqs(rest.id)).toEqual([v2.sequence_id]);
    await w.store.softDeleteAgent(doomed.id);
    expect(await w.released()).toEqual([v3.sequence_id, v3.sequence_id]);
    expect(await w.seqs(rest.id)).toEqual([v3.sequence_id]);
  });

  it('a stack label that no longer reaches a pending agent releases the next wave at once', async () => {
    const w = await world(engine);
    const c1 = await w.agent('c1', ['canary']);
    const c2 = await w.agent('c2', ['canary', 'eu'], false); // reaches the stack only by its label eu
    const p1 = await w.agent('p1', ['prod']);
    const v1 = await w.commit(1);
    await w.store.addLabel('stack', w.stack(), 'eu');
    await w.report(c1.id, v1.object_id);
    expect(await w.seqs(p1.id)).toEqual([]);
    expect((await w.store.getRollout(w.stack())).waves[0]!.agents.map((a) => a.id)).toEqual([c1.id, c2.id]);
    await w.store.removeLabel('stack', w.stack(), 'eu');
    expect(await w.seqs(p1.id)).toEqual([v1.sequence_id]);
    expect((await w.store.getRollout(w.stack())).waves[0]!.agents.map((a) => a.id)).toEqual([c1.id]);
  });
});
