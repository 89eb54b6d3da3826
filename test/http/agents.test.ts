/** Admin agent management over HTTP: create, read, update, delete, labels, annotations, targets, PAK rotation, heartbeats. */
import { describe, expect, it } from 'vitest';
import { ENGINES } from '../store/store-fixture.js';
import { startTestServer, UUID_RE } from './http-fixture.js';

const A = '/api/v1/agents';

describe.each(ENGINES)('creating agents (%s)', (engine) => {
  it('POST /agents answers 201 with the agent (no pak_hash) and a PAK that works at once', async () => {
    const s = await startTestServer({}, { engine });
    const res = await s.call('POST', A, { body: { name: 'edge-1', cluster_name: 'eu-1', labels: ['prod', 'eu'], annotations: { tier: 'web' } } });
    expect(res.status).toBe(201);
    expect(res.body.agent).toMatchObject({ name: 'edge-1', cluster_name: 'eu-1', deleted_at: null, last_heartbeat: null });
    expect(res.body.agent.id).toMatch(UUID_RE);
    expect(res.body.agent).not.toHaveProperty('pak_hash');
    expect(Object.keys(res.body.agent).sort()).toEqual(
      [
        'cluster_name',
        'created_at',
        'deleted_at',
        'id',
        'last_heartbeat',
        'name',
        'status',
        'updated_at',
        'k8s_reachable',
        'k8s_api_latency_ms',
        'k8s_reported_at',
      ].sort(),
    );
    expect(res.body.initial_pak).toMatch(/^brk_[A-Za-z0-9_-]{43}$/);
    const me = await s.call('GET', `${A}/${res.body.agent.id}`, { pak: res.body.initial_pak });
    expect(me.status).toBe(200);
    const labels = await s.call('GET', `${A}/${res.body.agent.id}/labels`);
    expect(labels.body.map((l: { label: string }) => l.label).sort()).toEqual(['eu', 'prod']);
    expect(labels.body[0]).toMatchObject({ agent_id: res.body.agent.id });
    const annotations = await s.call('GET', `${A}/${res.body.agent.id}/annotations`);
    expect(annotations.body).toEqual([{ id: expect.stringMatching(UUID_RE), agent_id: res.body.agent.id, key: 'tier', value: 'web' }]);
  });

  it('a second agent with the same name and cluster is a 409 conflict; another cluster is fine', async () => {
    const s = await startTestServer({}, { engine });
    await s.createAgent({ name: 'a', cluster_name: 'c' });
    const dup = await s.call('POST', A, { body: { name: 'a', cluster_name: 'c' } });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('conflict');
    expect((await s.call('POST', A, { body: { name: 'a', cluster_name: 'd' } })).status).toBe(201);
  });

  let refusals: ReturnType<typeof startTestServer> | undefined;
  it.each([
    [{ cluster_name: 'c' }, 'body.name is required'],
    [{ name: 'a' }, 'body.cluster_name is required'],
    [{ name: 123, cluster_name: 'c' }, 'body.name must be string'],
    [{ name: '', cluster_name: 'c' }, 'body.name must be at least 1 character'],
    [{ name: 'a', cluster_name: 'c', labels: ['x'.repeat(65)] }, 'body.labels[0] must be at most 64 characters'],
    [{ name: 'a', cluster_name: 'c', labels: ['has space'] }, 'must not contain whitespace'],
    [{ name: 'a', cluster_name: 'c', labels: ['dup', 'dup'] }, 'listed twice'],
    [{ name: 'a', cluster_name: 'c', annotations: { k: 1 } }, 'body.annotations.k must be string'],
    [{ name: 'a', cluster_name: 'c', colour: 'red' }, 'body has an unknown field "colour"'],
    [{ name: ' padded', cluster_name: 'c' }, 'must not start or end with whitespace'],
  ])('%j is refused with 400: %s', async (body, message) => {
    // One server for these cases: each is refused, and each checks that no agent exists afterwards.
    const s = await (refusals ??= startTestServer({}, { engine, keep: 'file' }));
    const res = await s.call('POST', A, { body });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('bad_request');
    expect(res.body.message).toContain(message);
    expect((await s.call('GET', A)).body).toEqual([]);
  });
});

describe.each(ENGINES)('reading and updating agents (%s)', (engine) => {
  it('PUT /agents/{id} changes name, cluster and status; GET shows it', async () => {
    const s = await startTestServer({}, { engine });
    const { agent } = await s.createAgent({ name: 'old' });
    const res = await s.call('PUT', `${A}/${agent.id}`, { body: { name: 'new', status: 'ACTIVE' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: agent.id, name: 'new', status: 'ACTIVE', cluster_name: agent.cluster_name });
    expect((await s.call('GET', `${A}/${agent.id}`)).body.name).toBe('new');
    expect((await s.call('PUT', `${A}/${agent.id}`, { body: { status: 'SLEEPING' } })).status).toBe(400);
  });

  it('unknown ids are 404 and malformed ids 400, for every agent route', async () => {
    const s = await startTestServer({}, { engine });
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const [method, suffix, body] of [
      ['GET', '', undefined],
      ['PUT', '', { name: 'x' }],
      ['DELETE', '', undefined],
      ['POST', '/rotate-pak', undefined],
      ['GET', '/labels', undefined],
      ['POST', '/labels', { label: 'x' }],
      ['GET', '/annotations', undefined],
      ['POST', '/annotations', { key: 'k', value: 'v' }],
      ['GET', '/targets', undefined],
      ['GET', '/events', undefined],
      ['GET', '/stacks', undefined],
      ['GET', '/target-state', undefined],
    ] as const) {
      const missing = await s.call(method, `${A}/${unknown}${suffix}`, { body });
      expect(missing.status, `${method} ${suffix}`).toBe(404);
      expect(missing.body.code).toBe('not_found');
      const malformed = await s.call(method, `${A}/not-a-uuid${suffix}`, { body });
      expect(malformed.status, `${method} ${suffix} malformed`).toBe(400);
      expect(malformed.body.message).toBe('params.id must be a UUID');
    }
  });

  it('ids in upper case are accepted', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent();
    expect((await s.call('GET', `${A}/${agent.id.toUpperCase()}`, { pak })).status).toBe(200);
  });
});

describe.each(ENGINES)('deleting agents and rotating PAKs (%s)', (engine) => {
  it('DELETE /agents/{id} answers 204, the agent is gone and its PAK stops working at once', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent();
    expect((await s.call('GET', `${A}/${agent.id}`, { pak })).status).toBe(200); // cached now
    const del = await s.call('DELETE', `${A}/${agent.id}`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await s.call('GET', `${A}/${agent.id}`, { pak })).status).toBe(401);
    expect((await s.call('GET', `${A}/${agent.id}`)).status).toBe(404);
    expect((await s.call('GET', A)).body).toEqual([]);
    expect((await s.call('DELETE', `${A}/${agent.id}`)).status).toBe(404);
    // Its name is free again.
    expect((await s.call('POST', A, { body: { name: agent.name, cluster_name: agent.cluster_name } })).status).toBe(201);
  });

  it('rotate-pak returns a new PAK; the old one is rejected at once, the new one works', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent();
    expect((await s.call('POST', `${A}/${agent.id}/heartbeat`, { pak })).status).toBe(204); // cached now
    const rotated = await s.call('POST', `${A}/${agent.id}/rotate-pak`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.agent.id).toBe(agent.id);
    expect(rotated.body.pak).not.toBe(pak);
    expect(rotated.body.agent).not.toHaveProperty('pak_hash');
    expect((await s.call('POST', `${A}/${agent.id}/heartbeat`, { pak })).status).toBe(401);
    expect((await s.call('POST', `${A}/${agent.id}/heartbeat`, { pak: rotated.body.pak })).status).toBe(204);
  });
});

describe.each(ENGINES)('heartbeats (%s)', (engine) => {
  it('a heartbeat answers 204 and sets last_heartbeat and status ACTIVE', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent();
    await s.call('PUT', `${A}/${agent.id}`, { body: { status: 'INACTIVE' } });
    const before = Date.now();
    const res = await s.call('POST', `${A}/${agent.id}/heartbeat`, { pak });
    expect(res.status).toBe(204);
    const after = await s.call('GET', `${A}/${agent.id}`, { pak });
    expect(after.body.status).toBe('ACTIVE');
    expect(Date.parse(after.body.last_heartbeat)).toBeGreaterThanOrEqual(before - 5);
    expect(after.body.last_heartbeat).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('a heartbeat with an empty JSON body (Content-Type set, no bytes) is accepted', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent();
    const res = await s.call('POST', `${A}/${agent.id}/heartbeat`, { pak, raw: '', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(204);
  });
});

describe.each(ENGINES)('labels, annotations and targets (%s)', (engine) => {
  it('labels: add 201, duplicate 409, invalid 400, remove 204, remove again 404', async () => {
    const s = await startTestServer({}, { engine });
    const { agent } = await s.createAgent();
    const add = await s.call('POST', `${A}/${agent.id}/labels`, { body: { label: 'prod' } });
    expect(add.status).toBe(201);
    expect(add.body).toEqual({ id: expect.stringMatching(UUID_RE), agent_id: agent.id, label: 'prod' });
    expect((await s.call('POST', `${A}/${agent.id}/labels`, { body: { label: 'prod' } })).status).toBe(409);
    const bad = await s.call('POST', `${A}/${agent.id}/labels`, { body: { label: 'a\tb' } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('label');
    expect((await s.call('DELETE', `${A}/${agent.id}/labels/prod`)).status).toBe(204);
    expect((await s.call('DELETE', `${A}/${agent.id}/labels/prod`)).status).toBe(404);
    expect((await s.call('GET', `${A}/${agent.id}/labels`)).body).toEqual([]);
  });

  it('labels with URL-special characters round-trip through the path', async () => {
    const s = await startTestServer({}, { engine });
    const { agent } = await s.createAgent();
    const label = 'team/a%b?c';
    expect((await s.call('POST', `${A}/${agent.id}/labels`, { body: { label } })).status).toBe(201);
    expect((await s.call('DELETE', `${A}/${agent.id}/labels/${encodeURIComponent(label)}`)).status).toBe(204);
  });

  it('annotations: set 201, set again replaces the value, remove 204', async () => {
    const s = await startTestServer({}, { engine });
    const { agent } = await s.createAgent();
    expect((await s.call('POST', `${A}/${agent.id}/annotations`, { body: { key: 'region', value: 'eu' } })).status).toBe(201);
    const replaced = await s.call('POST', `${A}/${agent.id}/annotations`, { body: { key: 'region', value: 'us' } });
    expect(replaced.status).toBe(201);
    expect(replaced.body).toMatchObject({ agent_id: agent.id, key: 'region', value: 'us' });
    expect((await s.call('GET', `${A}/${agent.id}/annotations`)).body).toHaveLength(1);
    expect((await s.call('POST', `${A}/${agent.id}/annotations`, { body: { key: 'k' } })).status).toBe(400);
    expect((await s.call('DELETE', `${A}/${agent.id}/annotations/region`)).status).toBe(204);
    expect((await s.call('DELETE', `${A}/${agent.id}/annotations/region`)).status).toBe(404);
  });

  it('targets: add 201, duplicate 409, unknown stack 404, deleted stack 409, remove 204', async () => {
    const s = await startTestServer({}, { engine });
    const { agent } = await s.createAgent();
    const ids = await s.repo.commit([
      { name: 'web', yaml: 'a: 1\n' },
      { name: 'old', yaml: 'b: 1\n' },
    ]);
    const web = ids.get('web')!;
    const old = ids.get('old')!;
    await s.repo.commit([], ['old']);
    const add = await s.call('POST', `${A}/${agent.id}/targets`, { body: { stack_id: web } });
    expect(add.status).toBe(201);
    expect(add.body).toEqual({ id: expect.stringMatching(UUID_RE), agent_id: agent.id, stack_id: web });
    expect((await s.call('POST', `${A}/${agent.id}/targets`, { body: { stack_id: web } })).status).toBe(409);
    expect((await s.call('POST', `${A}/${agent.id}/targets`, { body: { stack_id: '00000000-0000-4000-8000-000000000000' } })).status).toBe(404);
    expect((await s.call('POST', `${A}/${agent.id}/targets`, { body: { stack_id: old } })).status).toBe(409);
    expect((await s.call('POST', `${A}/${agent.id}/targets`, { body: { stack_id: 'web' } })).status).toBe(400);
    expect((await s.call('GET', `${A}/${agent.id}/targets`)).body).toHaveLength(1);
    expect((await s.call('DELETE', `${A}/${agent.id}/targets/${web}`)).status).toBe(204);
    expect((await s.call('DELETE', `${A}/${agent.id}/targets/${web}`)).status).toBe(404);
  });
});
