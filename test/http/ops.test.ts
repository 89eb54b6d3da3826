/** Operations endpoints and the OpenAPI document. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../src/http/webhook-signature.js';
import { startTestServer } from './http-fixture.js';

function fakeSyncer() {
  const requests: string[] = [];
  let ready = false;
  return {
    requests,
    setReady: (value: boolean) => (ready = value),
    control: { isReady: () => ready, requestSync: (reason: string) => void requests.push(reason) },
  };
}

describe('health and readiness', () => {
  it('/healthz is 200 at once; /readyz is 503 until the syncer is ready, then 200', async () => {
    const syncer = fakeSyncer();
    const s = await startTestServer({ syncer: syncer.control });
    expect((await s.call('GET', '/healthz', { pak: null })).body).toEqual({ status: 'ok' });
    const notReady = await s.call('GET', '/readyz', { pak: null });
    expect(notReady.status).toBe(503);
    expect(notReady.body.code).toBe('not_ready');
    syncer.setReady(true);
    expect((await s.call('GET', '/readyz', { pak: null })).status).toBe(200);
  });
});

describe('metrics', () => {
  it('exposes HTTP durations by route pattern, agents by status and waiting polls, per server instance', async () => {
    const s = await startTestServer();
    const { agent, pak } = await s.createAgent();
    await s.call('POST', `/api/v1/agents/${agent.id}/heartbeat`, { pak });
    await s.createAgent();
    const etag = (await s.call('GET', `/api/v1/agents/${agent.id}/target-state`, { pak })).headers.get('etag')!;
    const poll = s.call('GET', `/api/v1/agents/${agent.id}/target-state?wait=1`, { pak, headers: { 'if-none-match': etag } });
    while (s.feed.waiting === 0) await new Promise((r) => setTimeout(r, 5));
    const metrics = await s.call('GET', '/metrics', { pak: null });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(metrics.text).toMatch(/brokkr_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/agents\/:id\/heartbeat",status="204"\} 1/);
    expect(metrics.text).toMatch(/brokkr_agents\{status="ACTIVE"\} 1/);
    expect(metrics.text).toMatch(/brokkr_agents\{status="INACTIVE"\} 1/);
    expect(metrics.text).toMatch(/brokkr_long_polls_waiting 1/);
    expect(metrics.text).toMatch(/brokkr_sync_commits_total 0/);
    expect(metrics.text).not.toContain(agent.id);
    s.app.brokkr.metrics.sync.observeSync(0.25, { commits: 2, objects: 3, errors: 1 });
    const after = await s.call('GET', '/metrics', { pak: null });
    expect(after.text).toMatch(/brokkr_sync_commits_total 2/);
    expect(after.text).toMatch(/brokkr_sync_objects_total 3/);
    expect((await poll).status).toBe(304);
    // A second server has its own registry (no "already registered" clash, no shared counts).
    const other = await startTestServer();
    expect((await other.call('GET', '/metrics', { pak: null })).text).toMatch(/brokkr_sync_commits_total 0/);
  });
});

describe('OpenAPI', () => {
  it('describes every route with its parameters, bodies, responses and roles, from the route schemas', async () => {
    const s = await startTestServer();
    const res = await s.call('GET', '/api/v1/openapi.json', { pak: null });
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    for (const expected of [
      'GET /api/v1/agents/',
      'POST /api/v1/agents',
      'GET /api/v1/agents/{id}/target-state',
      'POST /api/v1/agents/{id}/events',
      'POST /api/v1/agents/{id}/heartbeat',
      'DELETE /api/v1/agents/{id}/labels/{label}',
      'POST /api/v1/agents/{id}/rotate-pak',
      'GET /api/v1/deployment-objects/{id}',
      'POST /api/v1/auth/pak',
      'GET /api/v1/stacks/{id}/deployment-objects',
      'GET /api/v1/sync/status',
      'GET /api/v1/status',
      'GET /api/v1/changes',
      'POST /api/v1/webhooks/git',
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
    ]) {
      expect(ops).toContain(expected);
    }
    const ts = doc.paths['/api/v1/agents/{id}/target-state'].get;
    expect(ts.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual(['path:id', 'query:mode', 'query:wait']);
    expect(ts.responses['200'].content['application/json'].schema.items.properties.sequence_id.type).toBe('integer');
    expect(ts.responses).toHaveProperty('304');
    expect(ts['x-roles']).toEqual(['admin', 'agent']);
    const create = doc.paths['/api/v1/agents'].post;
    expect(create.requestBody.content['application/json'].schema.required).toEqual(['name', 'cluster_name']);
    expect(create.responses['201'].content['application/json'].schema.properties).toHaveProperty('initial_pak');
    expect(create.responses['409'].content['application/json'].schema.properties.code.enum).toContain('conflict');
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });
});

describe('webhook signatures', () => {
  const secret = 's3cret';
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  const hmac = createHmac('sha256', secret).update(body).digest('hex');

  it.each([
    [{ 'x-hub-signature-256': `sha256=${hmac}` }, true],
    [{ 'x-hub-signature-256': `sha256=${hmac.toUpperCase()}` }, true],
    [{ 'x-hub-signature-256': hmac }, true],
    [{ 'x-gitea-signature': hmac }, true],
    [{ 'x-gitlab-token': secret }, true],
    [{ 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }, false],
    [{ 'x-hub-signature-256': 'sha256=' }, false],
    [{ 'x-hub-signature-256': `sha1=${hmac}` }, false],
    [{ 'x-gitlab-token': `${secret}x` }, false],
    [{}, false],
  ])('%j → %s', (headers, ok) => {
    expect(verifyWebhook(secret, headers, body)).toBe(ok);
  });

  it('without a configured secret the hook is accepted; without a syncer it is 503; signatures checked over the raw body', async () => {
    const syncer = fakeSyncer();
    const open = await startTestServer({ syncer: syncer.control });
    expect((await open.call('POST', '/api/v1/webhooks/git', { pak: null, raw: 'anything', headers: { 'content-type': 'text/plain' } })).status).toBe(202);
    expect(syncer.requests).toEqual(['webhook']);
    const none = await startTestServer();
    expect((await none.call('POST', '/api/v1/webhooks/git', { pak: null, body: {} })).status).toBe(503);
    const guarded = await startTestServer({ syncer: syncer.control, webhookSecret: secret });
    const raw = '{ "ref" : "refs/heads/main" }'; // whitespace matters: the HMAC covers bytes, not parsed JSON
    const sig = `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
    const form = 'payload=%7B%7D';
    const formSig = `sha256=${createHmac('sha256', secret).update(form).digest('hex')}`;
    expect((await guarded.call('POST', '/api/v1/webhooks/git', { pak: null, raw, headers: { 'content-type': 'application/json', 'x-hub-signature-256': sig } })).status).toBe(202);
    expect(
      (await guarded.call('POST', '/api/v1/webhooks/git', { pak: null, raw: form, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-hub-signature-256': formSig } }))
        .status,
    ).toBe(202);
    const bad = await guarded.call('POST', '/api/v1/webhooks/git', { pak: null, raw, headers: { 'content-type': 'application/json', 'x-hub-signature-256': formSig } });
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe('unauthorized');
    expect(syncer.requests).toEqual(['webhook', 'webhook', 'webhook']);
  });
});
