/**
 * Hostile HTTP against the real daemon (what test/http does not already cover): a thousand idle
 * connections plus slow clients while agents poll and a commit wakes a long poll; the timeouts the
 * daemon really runs with; and attempts by one agent to reach another agent's data or an object
 * of a stack it is not associated with, through odd path forms and after its association ends.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoreEngine } from '../../src/store/store.js';
import { makeRepo, type TestRepo } from '../helpers/git-repo.js';
import { ENGINES } from '../store/store-fixture.js';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(engine: StoreEngine = 'sqlite'): Promise<{ repo: TestRepo; d: TestDaemon }> {
  const repo = await makeRepo('brokkr-hostile-http-');
  cleanups.push(() => repo.cleanup());
  for (const [name, label] of [
    ['mine', 'blue'],
    ['theirs', 'red'],
  ]) {
    repo.write(`${name}/stack.yaml`, `name: ${name}\nlabels: [${label}]\n`).write(`${name}/cm.yaml`, `kind: ConfigMap\ndata: {secret: "${name}-data"}\n`);
  }
  repo.commit('two stacks');
  const d = await startTestDaemon({ repo: repo.path, engine });
  cleanups.push(() => d.close());
  await d.daemon.firstSync;
  return { repo, d };
}

async function agent(d: TestDaemon, name: string, label: string) {
  const res = await d.call('POST', '/api/v1/agents', { body: { name, cluster_name: 'c', labels: [label] } });
  expect(res.status).toBe(201);
  return { id: res.body.agent.id as string, pak: res.body.initial_pak as string };
}

function open(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** One raw HTTP/1.1 request (path sent exactly as given), the whole answer as text. */
function raw(url: string, request: string): Promise<string> {
  return open(url).then(
    (socket) =>
      new Promise((resolve) => {
        let data = '';
        socket.on('data', (b) => (data += b.toString()));
        socket.on('close', () => resolve(data));
        socket.on('error', () => resolve(data));
        socket.write(request);
      }),
  );
}

describe('slow and idle clients against the real daemon', () => {
  it('runs with finite header, request, keep-alive and socket timeouts, the socket one longer than the longest long poll', async () => {
    const { d } = await setup();
    const server = d.daemon.app.server;
    expect(server.headersTimeout).toBeGreaterThan(0);
    expect(server.headersTimeout).toBeLessThanOrEqual(60_000);
    expect(server.requestTimeout).toBeGreaterThan(0);
    expect(server.requestTimeout).toBeLessThanOrEqual(120_000);
    expect(server.keepAliveTimeout).toBeGreaterThan(0);
    expect(server.timeout).toBeGreaterThan(60_000); // a 60 s long poll must not be cut as idle
    expect(server.maxConnections).toBeGreaterThanOrEqual(1000);
  });

  it('a thousand idle connections and fifty slow clients do not keep health checks, polls or a commit-woken long poll from being answered', async () => {
    const { repo, d } = await setup();
    const me = await agent(d, 'me', 'blue');
    const sockets: Socket[] = [];
    cleanups.push(() => sockets.forEach((s) => s.destroy()));
    for (let i = 0; i < 1000; i += 100) sockets.push(...(await Promise.all(Array.from({ length: 100 }, () => open(d.daemon.url)))));
    const trickle: NodeJS.Timeout[] = [];
    cleanups.push(() => trickle.forEach(clearInterval));
    for (let i = 0; i < 25; i++) {
      const s = await open(d.daemon.url);
      sockets.push(s);
      s.write('GET /api/v1/agents HTTP/1.1\r\nHost: x\r\n');
      trickle.push(setInterval(() => s.writable && s.write(`X-Slow-${i}: a\r\n`), 200));
    }
    for (let i = 0; i < 25; i++) {
      const s = await open(d.daemon.url);
      sockets.push(s);
      s.write(`POST /api/v1/agents/${me.id}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${me.pak}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"deployment_object_id": "`);
    }

    expect((await d.call('GET', '/healthz', { pak: null })).status).toBe(200);
    const first = await d.call('GET', `/api/v1/agents/${me.id}/target-state`, { pak: me.pak });
    expect(first.status).toBe(200);
    expect(first.body).toHaveLength(1);
    expect(first.headers.get('x-content-type-options')).toBe('nosniff');
    expect(first.headers.get('content-security-policy')).toContain("default-src 'none'");

    const parked = d.call('GET', `/api/v1/agents/${me.id}/target-state?wait=30`, { pak: me.pak, headers: { 'if-none-match': first.headers.get('etag')! } });
    repo.write('mine/cm.yaml', 'kind: ConfigMap\ndata: {secret: "mine-data-2"}\n');
    repo.commit('change mine');
    const woken = await parked;
    expect(woken.status).toBe(200);
    expect(woken.body[0].yaml_content).toContain('mine-data-2');
    // The idle sockets are all still open: nothing was dropped to make room.
    expect(sockets.filter((s) => s.destroyed)).toHaveLength(0);
  }, 60_000);
});

describe.each(ENGINES)('one agent against another agent’s data (%s)', (engine) => {
  it('no path form reaches another agent’s records or an unassociated object: 4xx every time, their data never in the answer', async () => {
    const { d } = await setup(engine);
    const me = await agent(d, 'me', 'blue');
    const them = await agent(d, 'them', 'red');
    const theirObject = (await d.call('GET', `/api/v1/agents/${them.id}/target-state`, { pak: them.pak })).body[0];
    expect(theirObject.yaml_content).toContain('theirs-data');
    const up = them.id.toUpperCase();
    const paths = [
      `/api/v1/agents/${them.id}`,
      `/api/v1/agents/${up}`,
      `/api/v1/agents/${them.id}/`,
      `/api/v1/agents/${them.id}/target-state?mode=full`,
      `/api/v1/agents/${up}/target-state`,
      `/api/v1/agents/${me.id}/../${them.id}/target-state`,
      `/api/v1/agents/${me.id}/%2e%2e/${them.id}/target-state`,
      `/api/v1/agents/${me.id}%2F..%2F${them.id}/target-state`,
      `/api/v1/agents/${them.id}%00/target-state`,
      `/api/v1/agents//${them.id}/events`,
      `/api/v1/agents/${them.id};${me.id}/stacks`,
      `/api/v1/agents/${them.id}/events`,
      `/api/v1/agents/${them.id}/stacks`,
      `/api/v1/agents/${them.id}/labels`,
      `/api/v1/agents/${them.id}/annotations`,
      `/api/v1/agents/${them.id}/targets`,
      `/api/v1/agents?id=${them.id}`,
      `/api/v1/agents/?name=them&cluster_name=c`,
      `/api/v1/deployment-objects/${theirObject.id}`,
      `/api/v1/deployment-objects/${theirObject.id.toUpperCase()}`,
      `/api/v1/deployment-objects/${theirObject.id}/`,
      `/api/v1/stacks/${theirObject.stack_id}`,
      `/api/v1/stacks/${theirObject.stack_id}/deployment-objects`,
      '/api/v1/events',
      '/api/v1/status',
    ];
    for (const path of paths) {
      const answer = await raw(d.daemon.url, `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${me.pak}\r\nConnection: close\r\n\r\n`);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
      const body = answer.slice(answer.indexOf('\r\n\r\n'));
      if (path.startsWith('/api/v1/agents?id=')) {
        // The listing answers, but with the caller only.
        expect(status, path).toBe(200);
        expect(body, path).not.toContain(them.id);
        continue;
      }
      expect(status, `${path}: ${answer.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
      expect(status, path).toBeLessThan(500);
      expect(body, path).not.toContain('theirs-data');
      expect(body.toLowerCase(), path).not.toContain(`"id":"${them.id}"`);
    }
    // Writes in their name: an event for their object, an event claiming their agent_id.
    const forged = [
      await d.call('POST', `/api/v1/agents/${them.id}/events`, { pak: me.pak, body: { deployment_object_id: theirObject.id, event_type: 'DEPLOY', status: 'SUCCESS' } }),
      await d.call('POST', `/api/v1/agents/${me.id}/events`, { pak: me.pak, body: { deployment_object_id: theirObject.id, event_type: 'DEPLOY', status: 'SUCCESS' } }),
      await d.call('POST', `/api/v1/agents/${me.id}/events`, { pak: me.pak, body: { deployment_object_id: theirObject.id, event_type: 'DEPLOY', status: 'SUCCESS', agent_id: them.id } }),
      await d.call('POST', `/api/v1/agents/${them.id}/heartbeat`, { pak: me.pak }),
    ];
    for (const res of forged) expect([400, 403], res.text).toContain(res.status);
    const theirEvents = await d.call('GET', `/api/v1/agents/${them.id}/events`);
    expect(theirEvents.body).toEqual([]);
  }, 30_000);

  it('association is checked on every request: removing the label that linked a stack cuts the agent off at once', async () => {
    const { d } = await setup(engine);
    const me = await agent(d, 'me', 'blue');
    const mine = (await d.call('GET', `/api/v1/agents/${me.id}/target-state`, { pak: me.pak })).body[0];
    expect((await d.call('GET', `/api/v1/deployment-objects/${mine.id}`, { pak: me.pak })).status).toBe(200);
    expect((await d.call('DELETE', `/api/v1/agents/${me.id}/labels/blue`)).status).toBe(204);
    expect((await d.call('GET', `/api/v1/deployment-objects/${mine.id}`, { pak: me.pak })).status).toBe(403);
    const after = await d.call('GET', `/api/v1/agents/${me.id}/target-state?mode=full`, { pak: me.pak });
    expect(after.status).toBe(200);
    expect(after.body).toEqual([]);
    const event = await d.call('POST', `/api/v1/agents/${me.id}/events`, { pak: me.pak, body: { deployment_object_id: mine.id, event_type: 'DEPLOY', status: 'SUCCESS' } });
    expect(event.status).toBe(403);
  }, 30_000);
});
