/** Target state on every engine: which stacks an agent is associated with and which of their latest objects it gets. */
import { describe, expect, it } from 'vitest';
import { NotAssociatedError, NotFoundError, type StackUpsert, type StoreEngine } from '../../src/store/store.js';
import { PG_TARGET_STATE_SQL } from '../../src/store/postgres/target-state.js';
import { TARGET_STATE_SQL } from '../../src/store/sqlite/target-state.js';
import pg from 'pg';
import { ENGINES, openEngineStore, plainConnection, committer } from './store-fixture.js';

async function world(engine: StoreEngine) {
  const { store, target: path, raw } = await openEngineStore(engine);
  const { generatorId, apply } = await committer(store);
  const stack = async (name: string, extra: Partial<StackUpsert> = {}) => {
    const r = await apply({ upserts: [{ name, path: name, description: null, labels: [], annotations: {}, content: { yaml: `${name}: 1\n`, checksum: name }, ...extra }] });
    return { id: r.created[0]!.stack_id, objectId: r.created[0]!.object_id, sequence: r.created[0]!.sequence_id };
  };
  const agent = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'hash-edge' });
  const ids = async (mode: 'incremental' | 'full' = 'full') => (await store.targetStateIds(agent.id, mode)).map((e) => e.id);
  return { store, path, raw, apply, stack, agent, ids, generatorId };
}

describe.each(ENGINES)('target state association (%s)', (engine) => {
  it('includes a stack the agent targets', async () => {
    const { store, stack, agent, ids } = await world(engine);
    const s = await stack('web');
    await stack('other');
    await store.addTarget(agent.id, s.id);
    expect(await ids()).toEqual([s.objectId]);
    expect(await store.isStackAssociated(agent.id, s.id)).toBe(true);
  });

  it('includes a stack sharing a label with the agent', async () => {
    const { store, stack, agent, ids } = await world(engine);
    const s = await stack('web', { labels: ['prod', 'eu'] });
    await stack('dev', { labels: ['dev'] });
    await store.addLabel('agent', agent.id, 'eu');
    expect(await ids()).toEqual([s.objectId]);
  });

  it('includes a stack by annotation only when key and value both match', async () => {
    const { store, stack, agent, ids } = await world(engine);
    const match = await stack('web', { annotations: { region: 'eu-west-1' } });
    await stack('wrong-value', { annotations: { region: 'us-east-1' } });
    await stack('wrong-key', { annotations: { zone: 'eu-west-1' } });
    await store.setAnnotation('agent', agent.id, 'region', 'eu-west-1');
    expect(await ids()).toEqual([match.objectId]);
  });

  it('is empty for an agent with no targets, labels or annotations', async () => {
    const { stack, ids, agent, store } = await world(engine);
    await stack('web', { labels: ['prod'] });
    expect(await ids()).toEqual([]);
    expect(await store.listAgentStacks(agent.id)).toEqual([]);
  });

  it('lists associated live stacks once even when several rules match', async () => {
    const { store, stack, agent } = await world(engine);
    const s = await stack('web', { labels: ['prod'], annotations: { k: 'v' } });
    await store.addTarget(agent.id, s.id);
    await store.addLabel('agent', agent.id, 'prod');
    await store.setAnnotation('agent', agent.id, 'k', 'v');
    expect((await store.listAgentStacks(agent.id)).map((x) => x.id)).toEqual([s.id]);
    expect(await store.targetStateIds(agent.id, 'full')).toHaveLength(1);
  });

  it('an event that requires association is written only when the agent holds the stack by target, label or annotation', async () => {
    const { store, stack, agent } = await world(engine);
    const byTarget = await stack('t');
    const byLabel = await stack('l', { labels: ['prod'] });
    const byAnnotation = await stack('a', { annotations: { tier: 'gold' } });
    const notHeld = await stack('n', { labels: ['dev'], annotations: { tier: 'silver' } });
    await store.addTarget(agent.id, byTarget.id);
    await store.addLabel('agent', agent.id, 'prod');
    await store.setAnnotation('agent', agent.id, 'tier', 'gold');
    const report = (objectId: string, require_association = true) =>
      store.createEvent({ agent_id: agent.id, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null, require_association });
    // At once: the reports share one group commit, and the refused one fails alone.
    const outcomes = await Promise.allSettled([byTarget, byLabel, byAnnotation, notHeld].map((s) => report(s.objectId)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    const refused = (outcomes[3] as PromiseRejectedResult).reason as Error;
    expect(refused).toBeInstanceOf(NotAssociatedError);
    expect(refused.message).toBe(`deployment object ${notHeld.objectId} belongs to a stack that is not associated with agent ${agent.id}`);
    expect(await store.isStackAssociated(agent.id, notHeld.id)).toBe(false);
    const written = await store.listEvents({ agentId: agent.id });
    expect(written.map((e) => e.deployment_object_id).sort()).toEqual([byTarget.objectId, byLabel.objectId, byAnnotation.objectId].sort());
    // Alone too, and an unknown object is not found whether or not association is required.
    await expect(report(notHeld.objectId)).rejects.toBeInstanceOf(NotAssociatedError);
    await expect(report('00000000-0000-4000-8000-000000000000')).rejects.toThrow(NotFoundError);
    await expect(report('00000000-0000-4000-8000-000000000000', false)).rejects.toThrow(NotFoundError);
    expect(await store.listEvents({ agentId: agent.id })).toHaveLength(3);
    // Without the requirement (the store's own callers), the stack need not be held.
    await report(notHeld.objectId, false);
    expect((await store.listEvents({ agentId: agent.id, deploymentObjectId: notHeld.objectId })).length).toBe(1);
  });
});

describe.each(ENGINES)('target state content (%s)', (engine) => {
  it('delivers the newest object of a stack, newest sequence_id first across stacks', async () => {
    const { store, stack, apply, agent } = await world(engine);
    const a = await stack('a', { labels: ['x'] });
    const b = await stack('b', { labels: ['x'] });
    const a2 = await apply({ upserts: [{ id: a.id, name: 'a', path: 'a', description: null, labels: ['x'], annotations: {}, content: { yaml: 'a: 2\n', checksum: 'a2' } }] });
    await store.addLabel('agent', agent.id, 'x');
    const entries = await store.targetStateIds(agent.id, 'full');
    expect(entries.map((e) => e.id)).toEqual([a2.created[0]!.object_id, b.objectId]);
    expect(entries[0]!.sequence_id).toBeGreaterThan(entries[1]!.sequence_id);
  });

  it('delivers the deletion marker of a deleted associated stack', async () => {
    const { store, stack, apply, agent, ids } = await world(engine);
    const s = await stack('web', { labels: ['prod'] });
    await store.addLabel('agent', agent.id, 'prod');
    const del = await apply({ deletes: [s.id] });
    expect(await ids()).toEqual([del.deleted[0]!.marker_id]);
    expect(await store.isStackAssociated(agent.id, s.id)).toBe(true);
    expect(await store.listAgentStacks(agent.id)).toEqual([]);
  });

  it('delivers the marker even after a generator soft delete also soft-deleted it', async () => {
    const { store, stack, agent, ids, raw, generatorId } = await world(engine);
    const s = await stack('web');
    await store.addTarget(agent.id, s.id);
    await raw.exec('UPDATE generators SET deleted_at = ? WHERE id = ?', new Date().toISOString(), generatorId);
    const [entry] = await store.getObjects(await ids());
    expect(entry).toMatchObject({ stack_id: s.id, is_deletion_marker: true });
    expect(entry!.deleted_at).not.toBeNull();
  });

  it('incremental leaves out objects the agent reported SUCCESS for; full keeps them', async () => {
    const { store, stack, agent, ids } = await world(engine);
    const ok = await stack('ok', { labels: ['x'] });
    const failed = await stack('failed', { labels: ['x'] });
    const other = await store.createAgent({ name: 'other', cluster_name: 'eu', pak_hash: 'h2' });
    await store.addLabel('agent', agent.id, 'x');
    const report = (agentId: string, objectId: string, status: string) =>
      store.createEvent({ agent_id: agentId, deployment_object_id: objectId, event_type: 'DEPLOY', status, message: null });
    await report(agent.id, ok.objectId, 'SUCCESS');
    await report(agent.id, failed.objectId, 'FAILURE');
    await report(other.id, failed.objectId, 'SUCCESS'); // another agent's success does not count
    expect(await ids('incremental')).toEqual([failed.objectId]);
    expect(await ids('full')).toEqual([failed.objectId, ok.objectId]);
  });

  it('agentDeliverySummary counts pending and failed objects per live agent', async () => {
    const { store, stack, agent } = await world(engine);
    const a = await stack('a', { labels: ['x'] });
    const b = await stack('b', { labels: ['x'] });
    await stack('c', { labels: ['x'] });
    await store.addLabel('agent', agent.id, 'x');
    await store.createEvent({ agent_id: agent.id, deployment_object_id: a.objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null });
    await store.createEvent({ agent_id: agent.id, deployment_object_id: b.objectId, event_type: 'DEPLOY', status: 'FAILURE', message: 'boom' });
    const idle = await store.createAgent({ name: 'idle', cluster_name: 'eu', pak_hash: 'h3' });
    const summary = await store.agentDeliverySummary();
    expect(summary).toContainEqual({ agent_id: agent.id, pending: 2, failed: 1 });
    expect(summary).toContainEqual({ agent_id: idle.id, pending: 0, failed: 0 });
  });

});

describe('target state query plan (sqlite)', () => {
  it('probes indexes and never scans stacks, objects or events', async () => {
    const { path } = await world('sqlite');
    const db = plainConnection(path);
    db.exec('ANALYZE');
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${TARGET_STATE_SQL}`).all({ agent: 'x', incremental: 1 }) as { detail: string }[]).map((r) => r.detail);
    const scans = plan.filter((d) => /^SCAN (stacks|deployment_objects|agent_events|stack_labels|stack_annotations|o|e|sl|sa)\b/.test(d));
    expect(scans).toEqual([]);
    expect(plan.some((d) => d.includes('idx_deployment_objects_stack_sequence'))).toBe(true);
    expect(plan.some((d) => d.includes('idx_agent_events_agent_object_status'))).toBe(true);
  });
});

describe('target state query plan (postgres)', () => {
  it('is one query that walks the stack/sequence index and probes the events index', async () => {
    const { path } = await world('postgres');
    const client = new pg.Client({ connectionString: path });
    await client.connect();
    try {
      // Tiny tables make sequential scans cheapest; forbid them to see which indexes the query can use.
      await client.query('SET enable_seqscan = off');
      const sql = PG_TARGET_STATE_SQL.replace(/\$1/g, "'00000000-0000-4000-8000-000000000000'::uuid").replace(/\$2::boolean/g, 'true');
      const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('idx_deployment_objects_stack_sequence');
      expect(plan).toMatch(/Index (Only )?Scan using idx_agent_events_agent_\w+ on agent_events/); // (agent, object, status) or (agent, seq)
      expect(plan).not.toMatch(/Seq Scan on (stacks|deployment_objects|agent_events|stack_labels|stack_annotations)\b/);
    } finally {
      await client.end();
    }
  });
});
