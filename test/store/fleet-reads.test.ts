/** Fleet-wide dashboard reads agree with the per-agent reads they batch. */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { ENGINES, openEngineStore, committer } from './store-fixture.js';

async function fleet(store: Store) {
  const { apply } = await committer(store);
  const upsert = (name: string, labels: string[], annotations: Record<string, string>, v = 1) => ({
    name, path: name, description: null, labels, annotations, content: { yaml: `${name}: ${v}\n`, checksum: `${name}-${v}` },
  });
  const made = await apply({ upserts: [upsert('web', ['prod'], {}), upsert('db', [], { tier: 'data' }), upsert('cache', [], {}), upsert('gone', ['prod'], {})] });
  const id = (name: string) => made.created.find((c) => c.name === name)!.stack_id;
  await apply({ upserts: [{ ...upsert('web', ['prod'], {}, 2), id: id('web') }], deletes: [id('gone')] });

  const byLabel = await store.createAgent({ name: 'a-label', cluster_name: 'c', pak_hash: 'h1' });
  await store.addLabel('agent', byLabel.id, 'prod');
  const byAnnotation = await store.createAgent({ name: 'b-annotation', cluster_name: 'c', pak_hash: 'h2' });
  await store.setAnnotation('agent', byAnnotation.id, 'tier', 'data');
  await store.addLabel('agent', byAnnotation.id, 'zz');
  const byTarget = await store.createAgent({ name: 'c-target', cluster_name: 'c', pak_hash: 'h3' });
  await store.addTarget(byTarget.id, id('cache'));
  await store.addTarget(byTarget.id, id('db'));
  const none = await store.createAgent({ name: 'd-none', cluster_name: 'c', pak_hash: 'h4' });
  const deleted = await store.createAgent({ name: 'e-deleted', cluster_name: 'c', pak_hash: 'h5' });
  await store.addLabel('agent', deleted.id, 'prod');
  await store.softDeleteAgent(deleted.id);
  return { agents: [byLabel, byAnnotation, byTarget, none], deleted, id };
}

describe.each(ENGINES)('fleet-wide reads for dashboards (%s)', (engine) => {
  it('fullTargetStates equals targetStateIds(full) of every live agent, markers included, deleted agents left out', async () => {
    const { store } = await openEngineStore(engine);
    const { agents, deleted } = await fleet(store);
    const states = await store.fullTargetStates();
    for (const agent of agents) expect(states.get(agent.id) ?? []).toEqual(await store.targetStateIds(agent.id, 'full'));
    expect(states.get(agents[0]!.id)!.length).toBe(2); // web's second object and gone's deletion marker
    expect(states.has(agents[3]!.id)).toBe(false);
    expect(states.has(deleted.id)).toBe(false);
  });

  it('agentAssociationInputs lists each live agent with its sorted labels, annotations and targets', async () => {
    const { store } = await openEngineStore(engine);
    const { agents, id } = await fleet(store);
    const inputs = await store.agentAssociationInputs();
    expect(inputs.map((i) => i.agent_id)).toEqual(agents.map((a) => a.id).sort());
    const of = (agentId: string) => inputs.find((i) => i.agent_id === agentId)!;
    expect(of(agents[0]!.id)).toEqual({ agent_id: agents[0]!.id, labels: ['prod'], annotations: {}, targets: [] });
    expect(of(agents[1]!.id)).toEqual({ agent_id: agents[1]!.id, labels: ['zz'], annotations: { tier: 'data' }, targets: [] });
    expect(of(agents[2]!.id).targets).toEqual([id('cache'), id('db')].sort());
    expect(of(agents[3]!.id)).toEqual({ agent_id: agents[3]!.id, labels: [], annotations: {}, targets: [] });
  });
});
