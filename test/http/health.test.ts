/** Health reports (brokkr v1) and `GET /commits/{sha}` over HTTP, on both stores. */
import { describe, expect, it } from 'vitest';
import { STORE_ENGINES } from '../../src/store/store.js';
import { startTestServer, type TestServer } from './http-fixture.js';

const V1 = '/api/v1';
const YAML = 'kind: ConfigMap\n';

async function world(engine: (typeof STORE_ENGINES)[number]) {
  const s = await startTestServer({}, { engine });
  const ids = await s.repo.commit([{ name: 'web', labels: ['prod'], yaml: YAML }, { name: 'db', labels: ['prod'], yaml: YAML }, { name: 'other', labels: ['dev'], yaml: YAML }]);
  const sha = await cursor(s);
  const edge = await s.createAgent({ name: 'edge', labels: ['prod'] });
  const edge2 = await s.createAgent({ name: 'edge2', labels: ['prod'] });
  const object = async (name: string) => (await s.call('GET', `${V1}/stacks/${ids.get(name)}/deployment-objects`)).body[0].id as string;
  return { s, ids, sha, edge, edge2, web: await object('web'), db: await object('db'), other: await object('other') };
}

async function cursor(s: TestServer): Promise<string> {
  return (await s.store.getSyncState(await s.repo.generatorId()))!.cursor_commit!;
}

const report = (s: TestServer, agent: { agent: { id: string }; pak: string }, objects: unknown[], pak = agent.pak) =>
  s.call('PATCH', `${V1}/agents/${agent.agent.id}/health-status`, { pak, body: { deployment_objects: objects } });

const event = (s: TestServer, agent: { agent: { id: string }; pak: string }, objectId: string, status: 'SUCCESS' | 'FAILURE', message?: string) =>
  s.call('POST', `${V1}/agents/${agent.agent.id}/events`, { pak: agent.pak, body: { deployment_object_id: objectId, event_type: 'DEPLOY', status, message } });

describe.each(STORE_ENGINES)('health over HTTP (%s)', (engine) => {
  it('an agent reports its objects: 200 with no body; reads per object and per stack count by status', async () => {
    const w = await world(engine);
    const res = await report(w.s, w.edge, [
      { id: w.web, status: 'degraded', summary: '1/3 ready' },
      { id: w.db, status: 'healthy', checked_at: '2026-05-01T10:00:00+02:00' },
    ]);
    expect(res.status, res.text).toBe(200);
    expect(res.text).toBe('');
    expect((await report(w.s, w.edge2, [{ id: w.web, status: 'failing', summary: { pods_ready: 0, pods_total: 3, conditions: ['ImagePullBackOff'] } }])).status).toBe(200);

    const one = (await w.s.call('GET', `${V1}/deployment-objects/${w.web}/health`)).body;
    expect(one).toMatchObject({ deployment_object_id: w.web, overall_status: 'failing', counts: { healthy: 0, degraded: 1, failing: 1, unknown: 0 } });
    const fromBrokkr = one.health_records.find((r: { agent_id: string }) => r.agent_id === w.edge2.agent.id);
    expect(JSON.parse(fromBrokkr.summary)).toEqual({ pods_ready: 0, pods_total: 3, conditions: ['ImagePullBackOff'] });
    expect((await w.s.call('GET', `${V1}/deployment-objects/${w.db}/health`)).body.health_records[0].checked_at).toBe('2026-05-01T08:00:00.000Z');

    const stack = (await w.s.call('GET', `${V1}/stacks/${w.ids.get('web')}/health`)).body;
    expect(stack).toMatchObject({ stack_id: w.ids.get('web'), overall_status: 'failing', counts: { degraded: 1, failing: 1 } });
    expect(stack.deployment_objects).toEqual([
      expect.objectContaining({ id: w.web, status: 'failing', healthy_agents: 0, degraded_agents: 1, failing_agents: 1, unknown_agents: 0 }),
    ]);
    // A later report replaces the agent's row.
    await report(w.s, w.edge2, [{ id: w.web, status: 'healthy' }]);
    expect((await w.s.call('GET', `${V1}/stacks/${w.ids.get('web')}/health`)).body).toMatchObject({ overall_status: 'degraded', counts: { healthy: 1, degraded: 1 } });
  });

  it('only objects of associated stacks (403), known objects (404), the agent itself or the admin (403), brokkr’s statuses (400); nothing is written then', async () => {
    const w = await world(engine);
    const codes = async (...args: Parameters<typeof report>) => {
      const r = await report(...args);
      return `${r.status} ${r.body?.code ?? ''}`.trim();
    };
    expect(await codes(w.s, w.edge, [{ id: w.web, status: 'healthy' }, { id: w.other, status: 'healthy' }])).toBe('403 forbidden');
    expect(await codes(w.s, w.edge, [{ id: '00000000-0000-4000-8000-000000000000', status: 'healthy' }])).toBe('404 not_found');
    expect(await codes(w.s, w.edge, [{ id: w.web, status: 'healthy' }], w.edge2.pak)).toBe('403 forbidden');
    expect(await codes(w.s, w.edge, [{ id: w.web, status: 'HEALTHY' }])).toBe('400 bad_request');
    expect(await codes(w.s, w.edge, [{ id: w.web, status: 'healthy', checked_at: 'yesterday' }])).toBe('400 bad_request');
    expect((await w.s.call('GET', `${V1}/stacks/${w.ids.get('web')}/health`)).body.deployment_objects).toEqual([]);
    expect(await codes(w.s, w.edge, [{ id: w.web, status: 'unknown' }], w.s.adminPak)).toBe('200');
    expect(await codes(w.s, { agent: { id: '00000000-0000-4000-8000-000000000000' }, pak: w.s.adminPak }, [])).toBe('404 not_found');
    expect((await w.s.call('GET', `${V1}/stacks/${w.ids.get('web')}/health`, { pak: w.edge.pak })).status).toBe(403);
    expect((await w.s.call('GET', `${V1}/stacks/00000000-0000-4000-8000-000000000000/health`)).status).toBe(404);
  });

  it('GET /commits/{sha}: pending, then applied per agent, healthy when asked; a FAILURE fails it with the message', async () => {
    const w = await world(engine);
    const status = async (sha: string, query = '') => (await w.s.call('GET', `${V1}/commits/${sha}${query}`)).body;
    expect(await status(w.sha)).toMatchObject({ sha: w.sha, subject: 'commit 1', state: 'pending', counts: { applied: 0, failed: 0, pending: 4 } });
    for (const a of [w.edge, w.edge2]) for (const o of [w.web, w.db]) await event(w.s, a, o, 'SUCCESS');
    const applied = await status(w.sha.slice(0, 7));
    expect(applied).toMatchObject({ sha: w.sha, state: 'applied', counts: { applied: 4, failed: 0, pending: 0 } });
    expect(applied.stacks.map((x: { stack_name: string }) => x.stack_name)).toEqual(['db', 'other', 'web']);
    expect(applied.stacks[1].agents).toEqual([]); // nobody runs 'other'
    expect(applied.stacks[2].agents[0]).toMatchObject({ agent_name: 'edge', released: true, state: 'applied', health: null });
    expect((await status(w.sha, '?healthy=true')).state).toBe('applied');
    for (const a of [w.edge, w.edge2]) await report(w.s, a, [{ id: w.web, status: 'healthy' }, { id: w.db, status: 'healthy' }]);
    expect(await status(w.sha, '?healthy=true')).toMatchObject({ state: 'healthy', healthy_required: true });
    await report(w.s, w.edge2, [{ id: w.db, status: 'failing', summary: 'disk full' }]);
    const unhealthy = await status(w.sha, '?healthy=true');
    expect(unhealthy.state).toBe('failed');
    expect(unhealthy.stacks[0].agents[1]).toMatchObject({ agent_name: 'edge2', state: 'failed', message: 'health failing: disk full' });

    // The next commit: one agent fails, the other has not answered yet.
    await w.s.repo.commit([{ name: 'web', labels: ['prod'], yaml: `${YAML}# 2\n` }]);
    const second = await cursor(w.s);
    const web2 = (await w.s.call('GET', `${V1}/stacks/${w.ids.get('web')}/deployment-objects`)).body[0].id;
    expect((await status(w.sha)).stacks[2].latest_sequence_id).toBeGreaterThan(0);
    await event(w.s, w.edge, web2, 'FAILURE', 'kubectl: connection refused');
    const failed = await status(second);
    expect(failed).toMatchObject({ state: 'failed', counts: { failed: 1, pending: 1 } });
    expect(failed.stacks[0].agents[0]).toMatchObject({ agent_name: 'edge', state: 'failed', message: 'kubectl: connection refused' });
    // The retry succeeds: applied again, and the first commit counts it (a later object carries its change).
    await event(w.s, w.edge, web2, 'SUCCESS');
    await event(w.s, w.edge2, web2, 'SUCCESS');
    expect((await status(second)).state).toBe('applied');
    expect((await status(w.sha)).stacks[2].agents[0].applied_sequence_id).toBe((await status(second)).stacks[0].sequence_id);
  });

  it('GET /commits/{sha}: an unknown sha is 404 saying why, a short or non-hex one 400, a synced commit that changed no stack is applied', async () => {
    const w = await world(engine);
    const unknown = await w.s.call('GET', `${V1}/commits/0123456789abcdef0123456789abcdef01234567`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toContain('not synced yet');
    expect((await w.s.call('GET', `${V1}/commits/abc12`)).status).toBe(400);
    expect((await w.s.call('GET', `${V1}/commits/zzzzzzz`)).status).toBe(400);
    expect((await w.s.call('GET', `${V1}/commits/${w.sha}`, { pak: w.edge.pak })).status).toBe(403);
    await w.s.repo.commit([{ name: 'web', labels: ['prod', 'new-label'] }]); // a row change, no new object
    const empty = (await w.s.call('GET', `${V1}/commits/${await cursor(w.s)}`)).body;
    expect(empty).toMatchObject({ state: 'applied', stacks: [] });
  });
});
