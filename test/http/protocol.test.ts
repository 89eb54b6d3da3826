/** Protocol edges: unknown routes, body limits, content types, malformed JSON, error shape, security headers, logs without secrets. */
import { describe, expect, it } from 'vitest';
import { logLines } from '../helpers/log-lines.js';
import { ENGINES } from '../store/store-fixture.js';
import { startTestServer } from './http-fixture.js';

describe.each(ENGINES)('errors (%s)', (engine) => {
  it('unknown routes answer 404 {code: not_found} with the path and no stack trace', async () => {
    const s = await startTestServer({}, { engine });
    for (const path of ['/nope', '/api/v1/nope', '/api/v2/agents', '/api/v1/agents/x/y/z/w']) {
      const res = await s.call('GET', path);
      expect(res.status, path).toBe(404);
      expect(res.body).toEqual({ code: 'not_found', message: expect.stringContaining('no route GET') });
    }
    expect((await s.call('PATCH', '/api/v1/agents')).status).toBe(404);
  });

  it('a body over the limit is 413, a non-JSON content type 415, malformed JSON 400', async () => {
    const s = await startTestServer({ bodyLimit: 1024 }, { engine });
    const big = await s.call('POST', '/api/v1/agents', { raw: JSON.stringify({ name: 'x'.repeat(2000), cluster_name: 'c' }), headers: { 'content-type': 'application/json' } });
    expect(big.status).toBe(413);
    expect(big.body.code).toBe('payload_too_large');
    const text = await s.call('POST', '/api/v1/agents', { raw: 'name=a', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect(text.body.code).toBe('unsupported_media_type');
    const form = await s.call('POST', '/api/v1/agents', { raw: 'name=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    const broken = await s.call('POST', '/api/v1/agents', { raw: '{"name": ', headers: { 'content-type': 'application/json' } });
    expect(broken.status).toBe(400);
    expect(broken.body.code).toBe('bad_request');
    expect(broken.body.message).toMatch(/JSON/);
    const proto = await s.call('POST', '/api/v1/agents', {
      raw: '{"name":"a","cluster_name":"c","__proto__":{"admin":true}}',
      headers: { 'content-type': 'application/json' },
    });
    expect(proto.status).toBe(400);
    expect((await s.call('GET', '/api/v1/agents')).body).toEqual([]);
  });

  it('a body that is not an object is 400 naming the body', async () => {
    const s = await startTestServer({}, { engine });
    for (const raw of ['[]', '"x"', '42', 'null']) {
      const res = await s.call('POST', '/api/v1/agents', { raw, headers: { 'content-type': 'application/json' } });
      expect(res.status, raw).toBe(400);
      expect(res.body.message, raw).toMatch(/^body/);
    }
  });

  it('an unexpected failure is a 500 {code: internal} without details, logged with its stack', async () => {
    const { logger, lines } = logLines('info');
    const s = await startTestServer({ logger }, { engine });
    s.store.listGenerators = async () => {
      throw new Error('disk on fire at /secret/path');
    };
    const res = await s.call('GET', '/api/v1/generators');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ code: 'internal', message: 'internal server error' });
    expect(res.text).not.toContain('fire');
    expect(lines.join('')).toContain('disk on fire');
  });
});

describe.each(ENGINES)('headers and logs (%s)', (engine) => {
  it('every answer carries the security headers, API answers a strict CSP and no-store', async () => {
    const s = await startTestServer({}, { engine });
    for (const [method, path, pak] of [
      ['GET', '/healthz', null],
      ['GET', '/api/v1/agents', undefined],
      ['GET', '/api/v1/agents', 'bad'],
      ['GET', '/nope', null],
    ] as const) {
      const res = await s.call(method, path, { pak });
      const where = `${method} ${path} ${res.status}`;
      expect(res.headers.get('x-content-type-options'), where).toBe('nosniff');
      expect(res.headers.get('x-frame-options'), where).toBe('DENY');
      expect(res.headers.get('referrer-policy'), where).toBe('no-referrer');
      expect(res.headers.get('cache-control'), where).toBe('no-store');
      expect(res.headers.get('content-security-policy'), where).toContain("default-src 'none'");
    }
  });

  it('one log line per request with method, route pattern, status and duration; never the PAK or the body', async () => {
    const { logger, lines } = logLines('debug');
    const s = await startTestServer({ logger }, { engine });
    const { agent, pak } = await s.createAgent({ name: 'secret-name-in-body' });
    lines.length = 0;
    await s.call('GET', `/api/v1/agents/${agent.id}/target-state`, { pak });
    await s.call('POST', '/api/v1/agents', { body: { name: 'another-body-secret', cluster_name: 'c' } });
    const logged = lines.map((l) => JSON.parse(l));
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatchObject({ level: 20, method: 'GET', route: '/api/v1/agents/:id/target-state', status: 200, msg: 'request' });
    expect(typeof logged[0].ms).toBe('number');
    expect(logged[1]).toMatchObject({ level: 30, method: 'POST', route: '/api/v1/agents', status: 201 });
    const all = lines.join('');
    expect(all).not.toContain(pak);
    expect(all).not.toContain(s.adminPak);
    expect(all).not.toContain('another-body-secret');
    expect(all).not.toContain(agent.id); // the route pattern, not the raw URL
  });

  it('successful polls and heartbeats log at debug, their failures and everything else at info', async () => {
    const { logger, lines } = logLines('info');
    const s = await startTestServer({ logger }, { engine });
    const { agent, pak } = await s.createAgent();
    lines.length = 0;
    await s.call('GET', `/api/v1/agents/${agent.id}/target-state`, { pak });
    await s.call('POST', `/api/v1/agents/${agent.id}/heartbeat`, { pak });
    await s.call('GET', `/api/v1/agents/${agent.id}/target-state?wait=99`, { pak });
    await s.call('GET', `/api/v1/agents/${agent.id}`, { pak });
    expect(lines.map((l) => JSON.parse(l)).map((l) => `${l.route} ${l.status}`)).toEqual([
      '/api/v1/agents/:id/target-state 400',
      '/api/v1/agents/:id 200',
    ]);
  });
});
