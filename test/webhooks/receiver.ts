/** A real webhook receiver on 127.0.0.1 for tests: records every request; each path behaves as a receiver might (ok, slow, 500, redirect, hang, flaky). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The raw body, exactly as sent. */
  body: Buffer;
  /** What the receiver answered (0: nothing, it hung). */
  answered: number;
}

export interface Receiver {
  url(path: string): string;
  requests: Received[];
  /** Requests to a path. */
  to(path: string): Received[];
  /** `/flaky` answers 500 until this is true. */
  flakyOk: boolean;
  /** TCP connections accepted so far (a sender keeping connections alive opens few). */
  connections: number;
  close(): Promise<void>;
}

/**
 * /ok → 200 "thanks"; /slow → 200 after 300 ms; /500 → 500 "receiver broke"; /404 → 404;
 * /redirect → 302 to /ok; /hang → never answers; /flaky → 500 until `flakyOk`, then 200.
 */
export async function startReceiver(): Promise<Receiver> {
  const requests: Received[] = [];
  const hanging = new Set<http.ServerResponse>();
  const state = { flakyOk: false, connections: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const record: Received = { path, headers: req.headers, body: Buffer.concat(chunks), answered: 0 };
      requests.push(record);
      const answer = (status: number, body = '', headers: Record<string, string> = {}) => {
        // The sender gave up (timeout, shutdown): nobody hears this answer, so it does not count.
        if (res.destroyed || res.socket?.destroyed) return;
        record.answered = status;
        res.writeHead(status, headers).end(body);
      };
      switch (path) {
        case '/ok':
          return answer(200, 'thanks');
        case '/slow':
          return void setTimeout(() => answer(200, 'slow thanks'), 300);
        case '/500':
          return answer(500, 'receiver broke');
        case '/404':
          return answer(404, 'no such hook');
        case '/redirect':
          return answer(302, '', { location: '/ok' });
        case '/flaky':
          return state.flakyOk ? answer(200, 'ok now') : answer(500, 'not yet');
        case '/hang':
          hanging.add(res);
          return;
        default:
          return answer(404);
      }
    });
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    to: (path) => requests.filter((r) => r.path === path),
    get flakyOk() {
      return state.flakyOk;
    },
    set flakyOk(v: boolean) {
      state.flakyOk = v;
    },
    get connections() {
      return state.connections;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on (connection refused). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function until<T>(probe: () => T | Promise<T>, what: string, deadlineMs = 20_000): Promise<NonNullable<T>> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
