/** Admin views: stacks with details, their objects with commits, one object, generators, sync status, fleet status, changes. */
import { describe, expect, it } from 'vitest';
import { ENGINES } from '../store/store-fixture.js';
import { startTestServer } from './http-fixture.js';
import { buildWorld } from './world.js';

describe.each(ENGINES)('stacks (%s)', (engine) => {
  it('lists stacks with path, labels, annotations, latest object and commit; deleted ones only on request', async () => {
    const s = await startTestServer({}, { engine });
    await s.repo.commit([
      { name: 'web', labels: ['prod'], annotations: { tier: 'front' }, yaml: 'a: 1\n' },
      { name: 'old', yaml: 'b: 1\n' },
    ]);
    await s.repo.commit([], ['old']);
    const list = await s.call('GET', '/api/v1/stacks');
    expect(list.status).toBe(200);
    expect(list.body.map((st: { name: string }) => st.name)).toEqual(['web']);
    const web = list.body[0];
    expect(web).toMatchObject({ name: 'web', path: 'web', labels: ['prod'], annotations: { tier: 'front' }, deleted_at: null });
    expect(web.latest_object).toMatchObject({ is_deletion_marker: false, sequence_id: expect.any(Number) });
    expect(web.commit).toMatchObject({ sha: expect.stringMatching(/^[0-9a-f]{40}$/), author_name: 'Test', subject: 'commit 1' });
    const all = await s.call('GET', '/api/v1/stacks?include_deleted=true');
    expect(all.body.map((st: { name: string }) => st.name).sort()).toEqual(['old', 'web']);
    expect((await s.call('GET', '/api/v1/stacks?include_deleted=maybe')).status).toBe(400);
    const one = await s.call('GET', `/api/v1/stacks/${web.id}`);
    expect(one.body).toEqual(web);
    expect((await s.call('GET', '/api/v1/stacks/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('a stack’s objects come newest first, each with its commit; labels and annotations use stack_id', async () => {
    const s = await startTestServer({}, { engine });
    await s.repo.commit([{ name: 'web', labels: ['prod'], annotations: { tier: 'front' }, yaml: 'a: 1\n' }]);
    await s.repo.commit([{ name: 'web', labels: ['prod'], annotations: { tier: 'front' }, yaml: 'a: 2\n' }]);
    const id = s.repo.ids.get('web')!;
    const objects = await s.call('GET', `/api/v1/stacks/${id}/deployment-objects`);
    expect(objects.body.map((o: { yaml_content: string }) => o.yaml_content)).toEqual(['a: 2\n', 'a: 1\n']);
    expect(objects.body[0].commit.subject).toBe('commit 2');
    expect((await s.call('GET', `/api/v1/stacks/${id}/deployment-objects?limit=1`)).body).toHaveLength(1);
    const labels = await s.call('GET', `/api/v1/stacks/${id}/labels`);
    expect(labels.body).toEqual([{ id: expect.any(String), stack_id: id, label: 'prod' }]);
    const annotations = await s.call('GET', `/api/v1/stacks/${id}/annotations`);
    expect(annotations.body).toEqual([{ id: expect.any(String), stack_id: id, key: 'tier', value: 'front' }]);
  });
});

describe.each(ENGINES)('deployment objects (%s)', (engine) => {
  it('an associated agent, an admin and a generator read an object; another agent gets 403; unknown ids 404', async () => {
    const w = await buildWorld({}, engine);
    const asSelf = await w.s.call('GET', `/api/v1/deployment-objects/${w.objectId}`, { pak: w.self.pak });
    expect(asSelf.status).toBe(200);
    expect(asSelf.body).toMatchObject({ id: w.objectId, stack_id: w.stackId, yaml_content: 'kind: Web\n' });
    expect((await w.s.call('GET', `/api/v1/deployment-objects/${w.objectId}`, { pak: w.other.pak })).status).toBe(403);
    expect((await w.s.call('GET', `/api/v1/deployment-objects/${w.objectId}`, { pak: w.generatorPak })).status).toBe(200);
    expect((await w.s.call('GET', '/api/v1/deployment-objects/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});

describe.each(ENGINES)('status (%s)', (engine) => {
  it('generators, sync status and the fleet status describe the repository, stacks and agents', async () => {
    const w = await buildWorld({}, engine);
    await w.s.call('POST', `/api/v1/agents/${w.self.id}/heartbeat`, { pak: w.self.pak });
    await w.s.call('POST', `/api/v1/agents/${w.self.id}/events`, {
      pak: w.self.pak,
      body: { deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'FAILURE' },
    });
    const generators = await w.s.call('GET', '/api/v1/generators');
    expect(generators.body).toEqual([expect.objectContaining({ name: 'test-repo', is_active: true })]);
    expect(generators.body[0]).not.toHaveProperty('api_key_hash');
    const sync = await w.s.call('GET', '/api/v1/sync/status');
    expect(sync.body.ready).toBe(false);
    expect(sync.body.repositories[0]).toMatchObject({ generator_name: 'test-repo', branch: 'main', cursor_commit: expect.any(String) });
    expect(sync.body.errors).toEqual([]);
    const status = await w.s.call('GET', '/api/v1/status');
    expect(status.body.stacks).toEqual({ total: 2, invalid: 0 });
    const self = status.body.agents.find((a: { id: string }) => a.id === w.self.id);
    expect(self).toMatchObject({ name: 'self', status: 'ACTIVE', pending: 1, failed: 1 });
    expect(self.heartbeat_age_seconds).toBeGreaterThanOrEqual(0);
    const other = status.body.agents.find((a: { id: string }) => a.id === w.other.id);
    expect(other).toMatchObject({ last_heartbeat: null, heartbeat_age_seconds: null, pending: 1, failed: 0 });
  });

  it('/changes answers at once without since, and waits for the next change with since', async () => {
    const s = await startTestServer({}, { engine });
    const now = await s.call('GET', '/api/v1/changes');
    expect(now.body).toEqual({ version: s.feed.version });
    const waiting = s.call('GET', `/api/v1/changes?since=${now.body.version}&wait=60`);
    while (s.feed.waiting === 0) await new Promise((r) => setTimeout(r, 5));
    await s.createAgent();
    expect((await waiting).body.version).toBeGreaterThan(now.body.version);
    const timedOut = await s.call('GET', `/api/v1/changes?since=${s.feed.version}&wait=1`);
    expect(timedOut.body.version).toBe(s.feed.version);
    // A counter from before a restart is answered at once.
    expect((await s.call('GET', `/api/v1/changes?since=${s.feed.version + 100}&wait=60`)).body.version).toBe(s.feed.version);
  });
});
