/**
 * Issue 13 test world: stacks in throwaway repositories, an in-process daemon with its log lines
 * captured, HTTP calls with the admin PAK, agents that long-poll, and real Git servers on
 * 127.0.0.1 (`git http-backend` behind basic auth, optionally slow) or a closed port.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startDaemon, type Daemon, type DaemonOptions } from '../../../src/daemon/daemon.js';
import { git, type TestRepo } from '../../helpers/git-repo.js';

export const ADMIN_PAK = 'brk_repositories-admin-pak-0123456789abcdef';

/** A stack directory: a stack.yaml with the name and labels, and one ConfigMap carrying `value`. */
export function writeStack(repo: TestRepo, dir: string, name: string, value = 'v1', labels = ['fleet']): TestRepo {
  return repo.writeAll({
    [`${dir}/stack.yaml`]: `name: ${name}\nlabels: [${labels.join(', ')}]\n`,
    [`${dir}/config.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`,
  });
}

export interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

/** One HTTP request (admin PAK unless `pak` says otherwise; null: none). */
export async function call(
  base: string,
  method: string,
  path: string,
  opts: { pak?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const pak = opts.pak === undefined ? ADMIN_PAK : opts.pak;
  if (pak !== null) headers.authorization = `Bearer ${pak}`;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

/** A pino logger whose JSON lines are kept (raw text too, to search for secrets). */
export function captureLogger(level = 'debug') {
  const raw: string[] = [];
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line));
      }
      done();
    },
  });
  return { logger: pino({ level }, stream), lines, text: () => raw.join('\n') };
}

export interface RepoDaemon {
  daemon: Daemon;
  url: string;
  dbPath: string;
  log: ReturnType<typeof captureLogger>;
  call(method: string, path: string, opts?: Parameters<typeof call>[3]): Promise<Answer>;
  /** A generator row (GET /generators) by repository name. */
  generator(name: string): Promise<any>;
  close(): Promise<void>;
}

/** startDaemon on 127.0.0.1:0 with a known admin PAK over `db` (default a SQLite file in `dir`). */
export async function startRepoDaemon(options: Partial<DaemonOptions> & { dir: string }): Promise<RepoDaemon> {
  const { dir, ...rest } = options;
  const log = captureLogger();
  const dbPath = rest.db ?? join(dir, 'brokkr.db');
  const daemon = await startDaemon({
    port: 0,
    host: '127.0.0.1',
    dashboard: false,
    logger: log.logger,
    dataDir: join(dir, 'data'),
    ...rest,
    env: { BROKKR_ADMIN_PAK: ADMIN_PAK, ...(rest.env ?? {}) },
    db: dbPath,
  });
  const c = (method: string, path: string, opts?: Parameters<typeof call>[3]) => call(daemon.url, method, path, opts);
  let closed = false;
  return {
    daemon,
    url: daemon.url,
    dbPath,
    log,
    call: c,
    async generator(name) {
      const all = (await c('GET', '/api/v1/generators')).body as any[];
      return all.find((g) => (g.repository?.name ?? g.name) === name);
    },
    async close() {
      if (closed) return;
      closed = true;
      await daemon.close();
    },
  };
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/** Poll until `probe` is truthy, or fail naming `what` (a bound, never a speed assertion). */
export async function until<T>(probe: () => T | Promise<T>, what: string, deadlineMs = 15_000, everyMs = 25): Promise<Truthy<T>> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as Truthy<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function tempDir(prefix = 'brokkr-repos-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A loopback port nobody listens on (bound and released a moment ago). */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** GitHub's X-Hub-Signature-256 of a body. */
export function hubSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** An agent created by the admin API, with labels that associate it with stacks. */
export async function createAgent(base: string, name: string, labels = ['fleet']): Promise<{ id: string; pak: string }> {
  const res = await call(base, 'POST', '/api/v1/agents', { body: { name, cluster_name: 'test-cluster', labels } });
  if (res.status !== 201) throw new Error(`POST /agents: ${res.status} ${res.text}`);
  return { id: res.body.agent.id, pak: res.body.initial_pak };
}

/** The agent's full target state (stack ids, content, deletion markers). */
export async function targetState(base: string, agent: { id: string; pak: string }): Promise<any[]> {
  const res = await call(base, 'GET', `/api/v1/agents/${agent.id}/target-state?mode=full`, { pak: agent.pak });
  if (res.status !== 200) throw new Error(`target-state: ${res.status} ${res.text}`);
  return res.body as any[];
}

/**
 * A long-polling agent: keeps a `?wait=` request parked (with the last ETag) and records when
 * each answer arrived; `waitFor` resolves with the first target state matching `test`.
 */
export function longPollingAgent(base: string, agent: { id: string; pak: string }) {
  let etag: string | null = null;
  let stopped = false;
  const answers: Array<{ at: number; body: any[] }> = [];
  const ac = new AbortController();
  const loop = (async () => {
    while (!stopped) {
      try {
        const headers: Record<string, string> = { authorization: `Bearer ${agent.pak}` };
        if (etag) headers['if-none-match'] = etag;
        const res = await fetch(`${base}/api/v1/agents/${agent.id}/target-state?mode=full&wait=20`, { headers, signal: ac.signal });
        const at = performance.now();
        if (res.status === 200) {
          etag = res.headers.get('etag');
          answers.push({ at, body: (await res.json()) as any[] });
        } else await res.arrayBuffer();
      } catch {
        if (!stopped) await new Promise((r) => setTimeout(r, 50));
      }
    }
  })();
  return {
    answers,
    /** Resolves with (arrival time, state) of the first answer whose state satisfies `test`. */
    async waitFor(test: (state: any[]) => boolean, what: string, deadlineMs = 15_000) {
      return until(() => answers.find((a) => test(a.body)), what, deadlineMs, 5);
    },
    async stop() {
      stopped = true;
      ac.abort();
      await loop;
    },
  };
}

const GIT_CLEAN_ENV = { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

export interface GitHttpServer {
  /** http://127.0.0.1:PORT (no credentials). */
  readonly base: string;
  /** URL of a repository served here, e.g. `${base}/platform.git`. */
  urlOf(name: string): string;
  /** A new bare repository `NAME.git`, filled by pushing `from`'s current branch. */
  publish(name: string, from: TestRepo): string;
  /** Push `from` to the already served `name` again (after new commits). */
  push(name: string, from: TestRepo): void;
  /** Requests refused for missing or wrong credentials, and all requests. */
  refused(): number;
  requests(): number;
  /** Requests being held back by the delay right now. */
  held(): number;
  /** Hold every request this long before answering (0: answer at once). */
  setDelay(ms: number): void;
  stop(): Promise<void>;
}

/**
 * git's smart HTTP protocol: `git http-backend` run as a CGI for each request behind a small
 * node:http server, with HTTP basic auth when `user`/`password` are given.
 */
export async function startGitHttpServer(opts: { user?: string; password?: string; delayMs?: number } = {}): Promise<GitHttpServer> {
  const root = mkdtempSync(join(tmpdir(), 'brokkr-git-http-'));
  const backend = join(execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim(), 'git-http-backend');
  const expected = opts.user !== undefined ? `Basic ${Buffer.from(`${opts.user}:${opts.password ?? ''}`).toString('base64')}` : null;
  let delay = opts.delayMs ?? 0;
  let refused = 0;
  let requests = 0;
  const holding = new Set<NodeJS.Timeout>();

  const serve = (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      ...GIT_CLEAN_ENV,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(u.pathname),
      QUERY_STRING: u.search.replace(/^\?/, ''),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: '127.0.0.1',
      ...(opts.user ? { REMOTE_USER: opts.user } : {}),
      ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
      ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
    };
    const child = spawn(backend, [], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    req.pipe(child.stdin);
    child.stdin.on('error', () => undefined);
    let head = Buffer.alloc(0);
    let started = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (started) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      let end = head.indexOf('\r\n\r\n');
      let sep = 4;
      if (end < 0) {
        end = head.indexOf('\n\n');
        sep = 2;
      }
      if (end < 0) return;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const key = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (key.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else headers[key] = value;
      }
      res.writeHead(status, headers);
      started = true;
      res.write(head.subarray(end + sep));
    });
    child.stdout.on('end', () => {
      if (!started) res.writeHead(502);
      res.end();
    });
    child.on('error', () => res.destroy());
  };

  const server: Server = createHttpServer((req, res) => {
    requests += 1;
    if (expected !== null && req.headers.authorization !== expected) {
      refused += 1;
      req.resume();
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end();
      return;
    }
    if (delay <= 0) return serve(req, res);
    const timer = setTimeout(() => {
      holding.delete(timer);
      serve(req, res);
    }, delay);
    holding.add(timer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const push = (name: string, from: TestRepo) => {
    const branch = from.git('symbolic-ref', '--short', 'HEAD');
    git(from.path, ['push', '-q', '--force', join(root, `${name}.git`), `${branch}:refs/heads/${branch}`]);
  };
  return {
    base,
    urlOf: (name) => `${base}/${name}.git`,
    publish(name, from) {
      git(root, ['init', '-q', '--bare', '-b', from.git('symbolic-ref', '--short', 'HEAD'), `${name}.git`]);
      push(name, from);
      return `${base}/${name}.git`;
    },
    push,
    refused: () => refused,
    requests: () => requests,
    held: () => holding.size,
    setDelay(ms) {
      delay = ms;
    },
    async stop() {
      for (const t of holding) clearTimeout(t);
      holding.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
