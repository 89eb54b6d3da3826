/** Slow and idle clients: trickled headers and unfinished bodies are cut, idle connections block no one, long polls outlive the request timeout. */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startTestServer } from './http-fixture.js';

const timeouts = { headersTimeout: 500, requestTimeout: 800, keepAliveTimeout: 500, checkIntervalMs: 100 };

function open(base: string): Promise<Socket> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Everything the server sends until it closes the connection. */
function untilClosed(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (b) => (data += b.toString()));
    socket.on('close', () => resolve(data));
    socket.on('error', () => undefined);
  });
}

describe('server timeouts', () => {
  it('a client that trickles its headers and never finishes them is answered 408 and disconnected', async () => {
    const s = await startTestServer({ timeouts });
    const socket = await open(s.base);
    const closed = untilClosed(socket);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const timer = setInterval(() => socket.writable && socket.write('X-Slow: a\r\n'), 100);
    const data = await closed;
    clearInterval(timer);
    expect(data).toMatch(/^HTTP\/1\.1 408/);
  });

  it('a body that never finishes is cut after the request timeout and nothing is written', async () => {
    const s = await startTestServer({ timeouts });
    const socket = await open(s.base);
    const closed = untilClosed(socket);
    socket.write(
      `POST /api/v1/agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.adminPak}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":`,
    );
    const data = await closed;
    expect(data).toMatch(/^HTTP\/1\.1 408/);
    expect((await s.call('GET', '/api/v1/agents')).body).toEqual([]);
  });

  it('hundreds of idle connections do not keep others from being served', async () => {
    const s = await startTestServer({ timeouts: { ...timeouts, headersTimeout: 60_000, requestTimeout: 60_000 } });
    const idle = await Promise.all(Array.from({ length: 300 }, () => open(s.base)));
    try {
      const res = await s.call('GET', '/healthz', { pak: null });
      expect(res.status).toBe(200);
    } finally {
      for (const socket of idle) socket.destroy();
    }
  });

  it('a long poll outlives the request timeout: the timeout is about receiving the request, not answering it', async () => {
    const s = await startTestServer({ timeouts });
    const { agent, pak } = await s.createAgent();
    const etag = (await s.call('GET', `/api/v1/agents/${agent.id}/target-state`, { pak })).headers.get('etag')!;
    const started = Date.now();
    const res = await s.call('GET', `/api/v1/agents/${agent.id}/target-state?wait=2`, { pak, headers: { 'if-none-match': etag } });
    expect(res.status).toBe(304);
    expect(Date.now() - started).toBeGreaterThanOrEqual(timeouts.requestTimeout);
  });
});
