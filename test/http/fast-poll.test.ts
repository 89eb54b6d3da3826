/**
 * The 304 fast path (src/http/fast-poll.ts) against fastify's routed answer: two servers on ONE
 * store and change feed — one with the fast path, one without — get the same requests in lock
 * step, and must answer each with the same status, the same headers in the same order (Date
 * aside) and the same body; the fast one must really have answered the 304s it may take.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { createServer, type ServerOptions } from '../../src/http/server.js';
import { startTestServer, type TestServer } from './http-fixture.js';

interface Raw {
  status: number;
  /** Raw header lines in order, Date left out (it differs by the second). */
  headers: string[];
  body: string;
}

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

function get(base: string, path: string, headers: Record<string, string>, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const lines: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          if (res.rawHeaders[i]!.toLowerCase() !== 'date') lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        }
        resolve({ status: res.statusCode!, headers: lines, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A second server (no fast path) on the first one's store and feed. */
async function routedTwin(s: TestServer, options: Partial<ServerOptions>): Promise<{ app: FastifyInstance; base: string }> {
  const app = await createServer({ closeGraceMs: 200, ...options, store: s.store, feed: s.feed, fastPoll: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

/** Both servers, same options but the fast path; the test server's own (fast) one first. */
async function pair(options: Partial<ServerOptions> = {}) {
  const fast = await startTestServer(options);
  const routed = await routedTwin(fast, { rateLimit: false, ...options });
  expect(fast.app.brokkrFastPoll).not.toBeNull();
  expect(routed.app.brokkrFastPoll).toBeNull();
  /** The same request to both; their answers must be the same. Returns the answer. */
  const both = async (path: string, headers: Record<string, string>, method = 'GET'): Promise<Raw> => {
    const a = await get(fast.base, path, headers, method);
    const b = await get(routed.base, path, headers, method);
    expect(a, `${method} ${path} ${JSON.stringify(headers)}`).toEqual(b);
    return a;
  };
  return { fast, routed, both, answered: () => fast.app.brokkrFastPoll!.answered };
}

const path = (id: string, query = '') => `/api/v1/agents/${id}/target-state${query}`;
const bearer = (pak: string) => ({ authorization: `Bearer ${pak}` });

describe('the 304 fast path answers exactly as the routed path', () => {
  it('valid, stale, other modes, wrong and missing PAK, another agent, admin, bad and upper-case ids, waits, lists', async () => {
    const { fast, routed, both, answered } = await pair();
    const a = await fast.createAgent({ labels: ['web'] });
    const b = await fast.createAgent({ labels: ['web'] });
    await fast.repo.commit([{ name: 'site', labels: ['web'], yaml: 'kind: ConfigMap\n' }]);

    // Unconditional polls: 200 with the body and the ETag (routed on both), which also fills the caches.
    const full = await both(path(a.agent.id), bearer(a.pak));
    expect(full.status).toBe(200);
    expect(JSON.parse(full.body)).toHaveLength(1);
    const etag = full.headers.find((h) => h.startsWith('etag: '))!.slice(6);
    const fullMode = await both(path(a.agent.id, '?mode=full'), bearer(a.pak));
    const etagFull = fullMode.headers.find((h) => h.startsWith('etag: '))!.slice(6);
    expect(answered()).toBe(0);

    // The fast path's cases: the current tag, no wait, the agent's own PAK.
    const cond = { ...bearer(a.pak), 'if-none-match': etag };
    const n304 = await both(path(a.agent.id), cond);
    expect(n304.status).toBe(304);
    expect(n304.body).toBe('');
    expect(n304.headers).toContain(`etag: ${etag}`);
    expect(n304.headers).toContain('x-frame-options: DENY');
    expect((await both(path(a.agent.id, '?mode=incremental'), cond)).status).toBe(304);
    expect((await both(path(a.agent.id, '?mode=full'), { ...bearer(a.pak), 'if-none-match': etagFull })).status).toBe(304);
    expect((await both(path(a.agent.id), { ...bearer(a.pak), 'if-none-match': `"other", ${etag}` })).status).toBe(304);
    expect((await both(path(a.agent.id), { ...bearer(a.pak), 'if-none-match': `W/${etag}` })).status).toBe(304);
    expect((await both(path(a.agent.id), { ...bearer(a.pak), 'if-none-match': '*' })).status).toBe(304);
    expect((await both(path(a.agent.id), { authorization: `bearer  ${a.pak}`, 'if-none-match': etag })).status).toBe(304);
    expect(answered()).toBe(7);

    // Everything else is fastify's on both servers, with the same answer (compared inside `both`).
    const routedCases: [string, Record<string, string>, string?][] = [
      [path(a.agent.id), { ...bearer(a.pak), 'if-none-match': '"ts-1-stale"' }],
      [path(a.agent.id), { ...bearer('brk_not-a-known-pak'), 'if-none-match': etag }],
      [path(a.agent.id), { 'if-none-match': etag }],
      [path(b.agent.id), cond],
      [path(a.agent.id), { ...bearer(fast.adminPak), 'if-none-match': etag }],
      [path('not-a-uuid'), cond],
      [path(a.agent.id.toUpperCase()), cond],
      [path(a.agent.id, '?wait=0'), cond],
      [path(a.agent.id, '?wait=1'), cond],
      [path(a.agent.id, '?mode=sideways'), cond],
      [path(a.agent.id, '?mode=full&mode=full'), cond],
      [`${path(a.agent.id)}/`, cond],
      [`/api/v1/agents/${a.agent.id}//target-state`, cond],
      [path(a.agent.id), cond, 'HEAD'],
    ];
    const statuses: number[] = [];
    for (const [p, headers, method] of routedCases) statuses.push((await both(p, headers, method)).status);
    // (a malformed id is refused as another agent's before validation: the auth hook runs first)
    expect(statuses).toEqual([200, 401, 401, 403, 304, 403, 304, 304, 304, 400, 400, 404, 404, 304]);
    expect(answered()).toBe(7);

    // A new commit for the agent: its old tag is stale on both paths at once.
    await fast.repo.commit([{ name: 'site', labels: ['web'], yaml: 'kind: ConfigMap\ndata: {}\n' }]);
    expect((await both(path(a.agent.id), cond)).status).toBe(200);
    expect(answered()).toBe(7);

    // Both servers' HTTP metric counted the same answers: the fast path records the route pattern and its 304s.
    const series = async (base: string) =>
      (await get(base, '/metrics', {})).body.split('\n').filter((l) => l.startsWith('brokkr_http_request_duration_seconds_count{') && l.includes('target-state'));
    const counted = await series(fast.base);
    expect(counted).toEqual(await series(routed.base));
    expect(counted).toContain('brokkr_http_request_duration_seconds_count{method="GET",route="/api/v1/agents/:id/target-state",status="304"} 11'); // 7 fast, 4 routed (admin, upper-case id, wait=0, wait=1; HEAD is its own series)
  });

  it('a rotated PAK is refused at once on both paths, and the new one is served fast', async () => {
    const { fast, both, answered } = await pair();
    const a = await fast.createAgent();
    await fast.repo.commit([{ name: 'one', yaml: 'a: 1\n' }]);
    const first = await both(path(a.agent.id), bearer(a.pak));
    const etag = first.headers.find((h) => h.startsWith('etag: '))!.slice(6);
    expect((await both(path(a.agent.id), { ...bearer(a.pak), 'if-none-match': etag })).status).toBe(304);
    expect(answered()).toBe(1);
    const rotated = await fast.call('POST', `/api/v1/agents/${a.agent.id}/rotate-pak`);
    expect(rotated.status).toBe(200);
    const old = await both(path(a.agent.id), { ...bearer(a.pak), 'if-none-match': etag });
    expect(old.status).toBe(401);
    expect(answered()).toBe(1);
    await both(path(a.agent.id), bearer(rotated.body.pak)); // the new PAK's first request fills the cache (routed)
    expect((await both(path(a.agent.id), { ...bearer(rotated.body.pak), 'if-none-match': etag })).status).toBe(304);
    expect(answered()).toBe(2);
  });

  it('an agent over its budget gets the same 429 with Retry-After from both; the fast path never counts a request twice', async () => {
    const rateLimit = { budgets: { agent: { perSecond: 0.001, burst: 6 } } };
    const { fast, both, answered } = await pair({ rateLimit });
    const a = await fast.createAgent();
    await fast.repo.commit([{ name: 'one', yaml: 'a: 1\n' }]);
    const first = await both(path(a.agent.id), bearer(a.pak)); // token 1 (routed)
    const cond = { ...bearer(a.pak), 'if-none-match': first.headers.find((h) => h.startsWith('etag: '))!.slice(6) };
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await both(path(a.agent.id), cond)).status);
    expect(statuses).toEqual([304, 304, 304, 304, 304, 429, 429]);
    expect(answered()).toBe(5);
    const limited = await both(path(a.agent.id), cond);
    expect(limited.headers).toContain('retry-after: 1000');
  });

  it('when the request log would write the poll (level debug), every request goes through fastify', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const { fast, both, answered } = await pair({ logger });
    const a = await fast.createAgent();
    const first = await both(path(a.agent.id), bearer(a.pak));
    const cond = { ...bearer(a.pak), 'if-none-match': first.headers.find((h) => h.startsWith('etag: '))!.slice(6) };
    expect((await both(path(a.agent.id), cond)).status).toBe(304);
    expect(answered()).toBe(0);
    expect(lines.filter((l) => l.includes('"status":304') && l.includes('target-state'))).toHaveLength(2); // one per server
  });
});
