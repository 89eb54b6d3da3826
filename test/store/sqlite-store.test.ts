/** The Store contract on every engine: agents, labels/annotations/targets for both owners, events, PAK lookup, error mapping, record shapes. */
import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, type OwnerKind } from '../../src/store/store.js';
import { ENGINES, ISO_MS, nextMillisecond, openEngineStore, UUID_V4, withStack } from './store-fixture.js';

describe.each(ENGINES)('%s store', (engine) => {
  it('close() twice is harmless: the second waits for the first', async () => {
    const { store } = await openEngineStore(engine);
    await Promise.all([store.close(), store.close()]);
    await expect(store.close()).resolves.toBeUndefined();
  });

  describe('agents', () => {
    it('creates an agent with the data model defaults', async () => {
      const { store } = await openEngineStore(engine);
      const agent = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
      expect(agent).toMatchObject({ name: 'edge', cluster_name: 'eu', status: 'INACTIVE', last_heartbeat: null, deleted_at: null, pak_hash: 'h' });
      expect(agent.id).toMatch(UUID_V4);
      expect(agent.created_at).toMatch(ISO_MS);
      expect(Object.keys(agent)).toEqual([
        'id', 'created_at', 'updated_at', 'deleted_at', 'name', 'cluster_name', 'last_heartbeat', 'status', 'pak_hash',
        'k8s_reachable', 'k8s_api_latency_ms', 'k8s_reported_at',
      ]);
      expect(agent).toMatchObject({ k8s_reachable: null, k8s_api_latency_ms: null, k8s_reported_at: null });
    });

    it('a second live agent with the same name and cluster is a ConflictError', async () => {
      const { store } = await openEngineStore(engine);
      const a = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h1' });
      await expect(store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h2' })).rejects.toBeInstanceOf(ConflictError);
      await store.softDeleteAgent(a.id);
      await expect(store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h3' })).resolves.toMatchObject({ name: 'edge' });
    });

    it('updateAgent returns the row with the updated_at the trigger wrote', async () => {
      const { store } = await openEngineStore(engine);
      const a = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
      await nextMillisecond();
      const updated = await store.updateAgent(a.id, { status: 'ACTIVE' });
      expect(updated.status).toBe('ACTIVE');
      expect(updated.updated_at > a.updated_at).toBe(true);
      expect(await store.getAgent(a.id)).toEqual(updated);
      await expect(store.updateAgent('no-such-id', { status: 'ACTIVE' })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('a heartbeat sets last_heartbeat and status ACTIVE', async () => {
      const { store } = await openEngineStore(engine);
      const a = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
      await store.recordHeartbeat(a.id);
      expect(await store.getAgent(a.id)).toMatchObject({ status: 'ACTIVE', last_heartbeat: expect.stringMatching(ISO_MS) });
      expect(await store.countAgentsByStatus()).toEqual({ ACTIVE: 1 });
    });

    it('a soft-deleted agent is hidden unless asked for, and its PAK no longer resolves', async () => {
      const { store } = await openEngineStore(engine);
      const a = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
      expect(await store.findPrincipal('h')).toEqual({ role: 'agent', agent: a });
      await store.softDeleteAgent(a.id);
      expect(await store.getAgent(a.id)).toBeNull();
      expect((await store.getAgent(a.id, { includeDeleted: true }))!.deleted_at).toMatch(ISO_MS);
      expect(await store.listAgents()).toEqual([]);
      expect(await store.listAgents({ includeDeleted: true })).toHaveLength(1);
      expect(await store.findPrincipal('h')).toBeNull();
      await expect(store.softDeleteAgent(a.id)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('listAgents filters by name and cluster', async () => {
      const { store } = await openEngineStore(engine);
      await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h1' });
      await store.createAgent({ name: 'edge', cluster_name: 'us', pak_hash: 'h2' });
      await store.createAgent({ name: 'core', cluster_name: 'eu', pak_hash: 'h3' });
      expect((await store.listAgents({ name: 'edge' })).map((a) => a.cluster_name)).toEqual(['eu', 'us']);
      expect((await store.listAgents({ name: 'edge', cluster_name: 'us' })).map((a) => a.pak_hash)).toEqual(['h2']);
      expect(await store.listAgents({ cluster_name: 'eu' })).toHaveLength(2);
    });

    it('rotating the PAK hash makes the old one stop resolving', async () => {
      const { store } = await openEngineStore(engine);
      const a = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'old' });
      await store.setAgentPakHash(a.id, 'new');
      expect(await store.findPrincipal('old')).toBeNull();
      expect((await store.findPrincipal('new'))?.role).toBe('agent');
    });
  });

  describe('labels and annotations (one helper for stacks and agents)', () => {
    const owners: OwnerKind[] = ['stack', 'agent'];

    it.each(owners)('%s labels: add, list, duplicate is a ConflictError, remove', async (kind) => {
      const { store } = await openEngineStore(engine);
      const { stackId } = await withStack(store);
      const owner = kind === 'stack' ? stackId : (await store.createAgent({ name: 'a', cluster_name: 'c', pak_hash: 'h' })).id;
      const label = await store.addLabel(kind, owner, 'prod');
      expect(label).toMatchObject({ owner_id: owner, label: 'prod' });
      await store.addLabel(kind, owner, 'eu');
      await expect(store.addLabel(kind, owner, 'prod')).rejects.toBeInstanceOf(ConflictError);
      expect((await store.listLabels(kind, owner)).map((l) => l.label)).toEqual(['eu', 'prod']);
      expect(await store.removeLabel(kind, owner, 'prod')).toBe(true);
      expect(await store.removeLabel(kind, owner, 'prod')).toBe(false);
    });

    it.each(owners)('%s annotations: setting a key again replaces its value', async (kind) => {
      const { store } = await openEngineStore(engine);
      const { stackId } = await withStack(store);
      const owner = kind === 'stack' ? stackId : (await store.createAgent({ name: 'a', cluster_name: 'c', pak_hash: 'h' })).id;
      const first = await store.setAnnotation(kind, owner, 'region', 'eu');
      const second = await store.setAnnotation(kind, owner, 'region', 'us');
      expect(second).toEqual({ ...first, value: 'us' });
      expect(await store.listAnnotations(kind, owner)).toEqual([second]);
      expect(await store.removeAnnotation(kind, owner, 'region')).toBe(true);
      expect(await store.listAnnotations(kind, owner)).toEqual([]);
    });

    it('labels on an unknown owner are a NotFoundError', async () => {
      const { store } = await openEngineStore(engine);
      await expect(store.addLabel('agent', 'nope', 'x')).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.setAnnotation('stack', 'nope', 'k', 'v')).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('targets', () => {
    it('a target links an agent to a stack once', async () => {
      const { store } = await openEngineStore(engine);
      const { stackId } = await withStack(store);
      const a = await store.createAgent({ name: 'a', cluster_name: 'c', pak_hash: 'h' });
      const t = await store.addTarget(a.id, stackId);
      expect(t).toMatchObject({ agent_id: a.id, stack_id: stackId });
      await expect(store.addTarget(a.id, stackId)).rejects.toBeInstanceOf(ConflictError);
      await expect(store.addTarget(a.id, 'no-such-stack')).rejects.toBeInstanceOf(NotFoundError);
      expect(await store.listTargets(a.id)).toEqual([t]);
      expect(await store.removeTarget(a.id, stackId)).toBe(true);
      expect(await store.listTargets(a.id)).toEqual([]);
    });
  });

  describe('events', () => {
    it('events are listed newest first and filtered by agent and object', async () => {
      const { store } = await openEngineStore(engine);
      const { objectId } = await withStack(store);
      const a = await store.createAgent({ name: 'a', cluster_name: 'c', pak_hash: 'h1' });
      const b = await store.createAgent({ name: 'b', cluster_name: 'c', pak_hash: 'h2' });
      const e1 = await store.createEvent({ agent_id: a.id, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'FAILURE', message: 'boom' });
      const e2 = await store.createEvent({ agent_id: a.id, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null });
      const e3 = await store.createEvent({ agent_id: b.id, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null });
      expect((await store.listEvents()).map((e) => e.id)).toEqual([e3.id, e2.id, e1.id]);
      expect((await store.listEvents({ agentId: a.id })).map((e) => e.id)).toEqual([e2.id, e1.id]);
      expect((await store.listEvents({ agentId: a.id, limit: 1 })).map((e) => e.id)).toEqual([e2.id]);
      expect(await store.listEvents({ deploymentObjectId: 'other' })).toEqual([]);
      expect(e1).toMatchObject({ status: 'FAILURE', message: 'boom', deleted_at: null });
    });

    it('an event for an unknown agent or object is a NotFoundError', async () => {
      const { store } = await openEngineStore(engine);
      const { objectId } = await withStack(store);
      const a = await store.createAgent({ name: 'a', cluster_name: 'c', pak_hash: 'h' });
      await expect(store.createEvent({ agent_id: 'nope', deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null })).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.createEvent({ agent_id: a.id, deployment_object_id: 'nope', event_type: 'DEPLOY', status: 'SUCCESS', message: null })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('reports made at once (SQLite writes them in one transaction): each answered once committed, in order; a refused one fails alone', async () => {
      const { store, raw } = await openEngineStore(engine);
      const { objectId } = await withStack(store);
      const a = await store.createAgent({ name: 'a', cluster_name: 'c', pak_hash: 'h' });
      const report = (agent: string, object: string, message: string) =>
        store.createEvent({ agent_id: agent, deployment_object_id: object, event_type: 'DEPLOY', status: 'SUCCESS', message });
      const settled = await Promise.allSettled([
        report(a.id, objectId, 'one'),
        report(a.id, 'nope', 'refused: object'),
        report(a.id, objectId, 'two'),
        report('nope', objectId, 'refused: agent'),
        report(a.id, objectId, 'three'),
      ]);
      expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
      expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(NotFoundError);
      expect((settled[3] as PromiseRejectedResult).reason).toBeInstanceOf(NotFoundError);
      // Committed when answered: another connection sees exactly the three.
      expect(await raw.count('agent_events')).toBe(3);
      const written = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value.id] : []));
      const listed = await store.listEvents({ agentId: a.id });
      expect(listed.map((e) => e.id).sort()).toEqual([...written].sort());
      // SQLite's batch keeps the order they were made in (PostgreSQL's pool may run them side by side).
      if (engine === 'sqlite') expect(listed.map((e) => e.message)).toEqual(['three', 'two', 'one']);
    });
  });

  describe('principals', () => {
    it('resolves the admin PAK hash, replaced by setAdminPakHash', async () => {
      const { store } = await openEngineStore(engine);
      expect(await store.hasAdminPak()).toBe(false);
      await store.setAdminPakHash('admin1');
      await store.setAdminPakHash('admin2');
      expect(await store.hasAdminPak()).toBe(true);
      expect(await store.findPrincipal('admin1')).toBeNull();
      expect(await store.findPrincipal('admin2')).toMatchObject({ role: 'admin', name: 'admin' });
    });

    it('resolves an active generator by its api_key_hash, and never an empty hash', async () => {
      const { store, raw } = await openEngineStore(engine);
      const g = await store.ensureGenerator('repo', null);
      await raw.exec("UPDATE generators SET api_key_hash = 'gk' WHERE id = ?", g.id);
      expect(await store.findPrincipal('gk')).toMatchObject({ role: 'generator', generator: { id: g.id, is_active: true } });
      await raw.exec('UPDATE generators SET is_active = ? WHERE id = ?', engine === 'sqlite' ? 0 : false, g.id);
      expect(await store.findPrincipal('gk')).toBeNull();
      await store.createAgent({ name: 'a', cluster_name: 'c', pak_hash: '' });
      expect(await store.findPrincipal('')).toBeNull();
    });
  });

  describe('generators, stacks and objects', () => {
    it('ensureGenerator returns the same live generator for a name', async () => {
      const { store } = await openEngineStore(engine);
      const a = await store.ensureGenerator('repo', 'desc');
      const b = await store.ensureGenerator('repo', 'other');
      expect(b).toEqual(a);
      expect(a.is_active).toBe(true);
      expect(await store.listGenerators()).toEqual([a]);
    });

    it('records carry booleans as booleans and objects carry their commit', async () => {
      const { store } = await openEngineStore(engine);
      const { stackId, objectId } = await withStack(store);
      const objects = await store.listObjects(stackId);
      expect(objects).toHaveLength(1);
      expect(objects[0]!.is_deletion_marker).toBe(false);
      expect(objects[0]!.commit).toEqual({ sha: 'c1', author_name: 'a', author_email: 'a@x', subject: 's', committed_at: '2030-01-01T00:00:00.000Z' });
      const [plain] = await store.getObjects([objectId, 'missing']);
      expect(plain).not.toHaveProperty('commit');
      expect(JSON.parse(JSON.stringify(plain))).toEqual(plain);
      expect(await store.getObject('missing')).toBeNull();
      expect(await store.getStack('missing')).toBeNull();
    });

    it('listStacks hides deleted stacks unless asked for', async () => {
      const { store, raw } = await openEngineStore(engine);
      const { stackId } = await withStack(store);
      await raw.exec('UPDATE stacks SET deleted_at = ? WHERE id = ?', new Date().toISOString(), stackId);
      expect(await store.listStacks()).toEqual([]);
      const [deleted] = await store.listStacks({ includeDeleted: true });
      expect(deleted!.latest_object).toMatchObject({ is_deletion_marker: true });
    });

    it('saveSyncTarget keeps the cursor; setSyncFailure records and clears an error', async () => {
      const { store } = await openEngineStore(engine);
      const { generatorId } = await withStack(store);
      const state = await store.saveSyncTarget(generatorId, { repo: '/other', branch: 'dev', root: 'stacks' });
      expect(state).toMatchObject({ repo: '/other', branch: 'dev', root: 'stacks', cursor_commit: 'c1' });
      await store.setSyncFailure(generatorId, 'fetch failed');
      expect((await store.getSyncState(generatorId))!.last_error).toBe('fetch failed');
      await store.setSyncFailure(generatorId, null);
      expect(await store.listSyncStates()).toEqual([{ ...state, last_error: null }]);
      await expect(store.setSyncFailure('nope', 'x')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('a failure before the first saveSyncTarget is still recorded', async () => {
      const { store } = await openEngineStore(engine);
      const g = await store.ensureGenerator('git:/repo', null);
      await store.setSyncFailure(g.id, 'fetch failed');
      expect(await store.getSyncState(g.id)).toMatchObject({ repo: 'git:/repo', cursor_commit: null, last_error: 'fetch failed' });
    });
  });
});
