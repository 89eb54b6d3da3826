/** A stand-in for the daemon's admin API (node:http, contract-shaped JSON) to test the CLI on its own. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

export const ADMIN_PAK = 'test-admin-pak';

export interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
}

type Json = Record<string, unknown>;
type Answer = { status: number; body?: unknown; raw?: string };
type Route = (params: string[], query: Record<string, string>, body: Json) => Answer;

/** What the fake serves; tests fill it with records in the wire format of the contract. */
export interface FakeState {
  agents: Json[];
  labels: { id: string; agent_id: string; label: string }[];
  annotations: { id: string; agent_id: string; key: string; value: string }[];
  targets: { id: string; agent_id: string; stack_id: string }[];
  stacks: Json[];
  objects: Json[];
  events: Json[];
  status: Json;
  sync: Json;
}

export interface FakeDaemon {
  url: string;
  state: FakeState;
  seen: Seen[];
  /** Answer the next matching request with this instead (e.g. a 500 or a non-JSON page). */
  override(method: string, path: string, answer: Answer): void;
  close(): Promise<void>;
}

export function agentRecord(name: string, cluster: string, extra: Json = {}): Json {
  const now = new Date().toISOString();
  return { id: randomUUID(), created_at: now, updated_at: now, deleted_at: null, name, cluster_name: cluster, last_heartbeat: null, status: 'INACTIVE', ...extra };
}

const notFound = (what: string): Answer => ({ status: 404, body: { code: 'not_found', message: `${what} not found` } });

export async function startFakeDaemon(): Promise<FakeDaemon> {
  const state: FakeState = {
    agents: [],
    labels: [],
    annotations: [],
    targets: [],
    stacks: [],
    objects: [],
    events: [],
    status: { repositories: [], stacks: { total: 0, invalid: 0 }, errors: [], agents: [] },
    sync: { ready: true, repositories: [], errors: [] },
  };
  const seen: Seen[] = [];
  const overrides = new Map<string, Answer>();
  const agent = (id: string) => state.agents.find((a) => a.id === id && !a.deleted_at);
  const withAgent = (id: string, then: () => Answer): Answer => (agent(id) ? then() : notFound(`agent ${id}`));

  const routes: [string, RegExp, Route][] = [
    ['GET', /^\/agents\/?$/, (_, q) => ({ status: 200, body: state.agents.filter((a) => !a.deleted_at && (!q.name || a.name === q.name)) })],
    ['POST', /^\/agents$/, (_, __, b) => {
      const created = agentRecord(String(b.name), String(b.cluster_name));
      state.agents.push(created);
      for (const label of (b.labels as string[]) ?? []) state.labels.push({ id: randomUUID(), agent_id: String(created.id), label });
      for (const [key, value] of Object.entries((b.annotations as Record<string, string>) ?? {})) {
        state.annotations.push({ id: randomUUID(), agent_id: String(created.id), key, value });
      }
      return { status: 201, body: { agent: created, initial_pak: 'pak-initial-0123456789' } };
    }],
    ['GET', /^\/agents\/([^/]+)$/, ([id]) => withAgent(id, () => ({ status: 200, body: agent(id) }))],
    ['DELETE', /^\/agents\/([^/]+)$/, ([id]) => withAgent(id, () => {
      agent(id)!.deleted_at = new Date().toISOString();
      return { status: 204 };
    })],
    ['GET', /^\/agents\/([^/]+)\/labels$/, ([id]) => withAgent(id, () => ({ status: 200, body: state.labels.filter((l) => l.agent_id === id) }))],
    ['POST', /^\/agents\/([^/]+)\/labels$/, ([id], _, b) => withAgent(id, () => {
      const row = { id: randomUUID(), agent_id: id, label: String(b.label) };
      state.labels.push(row);
      return { status: 201, body: row };
    })],
    ['DELETE', /^\/agents\/([^/]+)\/labels\/([^/]+)$/, ([id, label]) => withAgent(id, () => {
      state.labels = state.labels.filter((l) => !(l.agent_id === id && l.label === label));
      return { status: 204 };
    })],
    ['GET', /^\/agents\/([^/]+)\/annotations$/, ([id]) => withAgent(id, () => ({ status: 200, body: state.annotations.filter((a) => a.agent_id === id) }))],
    ['POST', /^\/agents\/([^/]+)\/annotations$/, ([id], _, b) => withAgent(id, () => {
      const row = { id: randomUUID(), agent_id: id, key: String(b.key), value: String(b.value) };
      state.annotations.push(row);
      return { status: 201, body: row };
    })],
    ['DELETE', /^\/agents\/([^/]+)\/annotations\/([^/]+)$/, ([id, key]) => withAgent(id, () => {
      state.annotations = state.annotations.filter((a) => !(a.agent_id === id && a.key === key));
      return { status: 204 };
    })],
    ['GET', /^\/agents\/([^/]+)\/targets$/, ([id]) => withAgent(id, () => ({ status: 200, body: state.targets.filter((t) => t.agent_id === id) }))],
    ['POST', /^\/agents\/([^/]+)\/targets$/, ([id], _, b) => withAgent(id, () => {
      if (!state.stacks.some((s) => s.id === b.stack_id)) return notFound(`stack ${String(b.stack_id)}`);
      const row = { id: randomUUID(), agent_id: id, stack_id: String(b.stack_id) };
      state.targets.push(row);
      return { status: 201, body: row };
    })],
    ['DELETE', /^\/agents\/([^/]+)\/targets\/([^/]+)$/, ([id, stackId]) => withAgent(id, () => {
      state.targets = state.targets.filter((t) => !(t.agent_id === id && t.stack_id === stackId));
      return { status: 204 };
    })],
    // Association by targets only: enough to show the CLI prints what the daemon answers.
    ['GET', /^\/agents\/([^/]+)\/stacks$/, ([id]) => withAgent(id, () => ({
      status: 200,
      body: state.stacks.filter((s) => state.targets.some((t) => t.agent_id === id && t.stack_id === s.id)),
    }))],
    ['POST', /^\/agents\/([^/]+)\/rotate-pak$/, ([id]) => withAgent(id, () => ({ status: 200, body: { agent: agent(id), pak: 'pak-rotated-9876543210' } }))],
    ['GET', /^\/stacks$/, (_, q) => ({ status: 200, body: state.stacks.filter((s) => q.include_deleted === 'true' || !s.deleted_at) })],
    ['GET', /^\/stacks\/([^/]+)$/, ([id]) => {
      const stack = state.stacks.find((s) => s.id === id);
      return stack ? { status: 200, body: stack } : notFound(`stack ${id}`);
    }],
    // No agent has reported health here.
    ['GET', /^\/stacks\/([^/]+)\/health$/, ([id]) => ({
      status: 200,
      body: { stack_id: id, overall_status: 'unknown', counts: { healthy: 0, degraded: 0, failing: 0, unknown: 0 }, deployment_objects: [] },
    })],
    ['GET', /^\/stacks\/([^/]+)\/deployment-objects$/, ([id]) => ({
      status: 200,
      body: state.objects.filter((o) => o.stack_id === id).sort((a, b) => Number(b.sequence_id) - Number(a.sequence_id)),
    })],
    ['GET', /^\/deployment-objects\/([^/]+)$/, ([id]) => {
      const obj = state.objects.find((o) => o.id === id);
      return obj ? { status: 200, body: obj } : notFound(`deployment object ${id}`);
    }],
    ['GET', /^\/events$/, (_, q) => {
      const events = state.events.filter((e) => !q.agent_id || e.agent_id === q.agent_id);
      return { status: 200, body: q.limit ? events.slice(0, Number(q.limit)) : events };
    }],
    ['GET', /^\/status$/, () => ({ status: 200, body: state.status })],
    ['GET', /^\/sync\/status$/, () => ({ status: 200, body: state.sync })],
  ];

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.replace(/^\/api\/v1/, '');
    const query = Object.fromEntries(url.searchParams);
    const text = await readBody(req);
    const body = text ? (JSON.parse(text) as Json) : {};
    seen.push({ method: req.method ?? '', path, query, body: text ? body : undefined, authorization: req.headers.authorization });
    const send = (a: Answer) => {
      if (a.raw !== undefined) {
        res.writeHead(a.status, { 'content-type': 'text/html' }).end(a.raw);
      } else if (a.body === undefined) {
        res.writeHead(a.status).end();
      } else {
        res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
      }
    };
    const key = `${req.method} ${path}`;
    const forced = overrides.get(key);
    if (forced) {
      overrides.delete(key);
      return send(forced);
    }
    if (req.headers.authorization !== `Bearer ${ADMIN_PAK}`) {
      return send({ status: 401, body: { code: 'unauthorized', message: 'missing or unknown PAK' } });
    }
    for (const [method, pattern, route] of routes) {
      const m = method === req.method ? pattern.exec(path) : null;
      if (m) return send(route(m.slice(1).map(decodeURIComponent), query, body));
    }
    send({ status: 404, body: { code: 'not_found', message: `no route ${key}` } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    seen,
    override: (method, path, answer) => overrides.set(`${method} ${path}`, answer),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

export interface CommitJson { sha: string; author_name: string; author_email: string; subject: string; committed_at: string }

export function commitRecord(subject: string, author = 'Ada Lovelace', secondsAgo = 60): CommitJson {
  const sha = Buffer.from(subject.padEnd(20, '.')).toString('hex').slice(0, 40).padEnd(40, '0');
  return { sha, author_name: author, author_email: 'ada@example.com', subject, committed_at: new Date(Date.now() - secondsAgo * 1000).toISOString() };
}

/** A StackDetail as `GET /stacks` answers it. */
export function stackRecord(name: string, extra: Json = {}): Json {
  const now = new Date().toISOString();
  return {
    id: randomUUID(), created_at: now, updated_at: now, deleted_at: null, name, description: null,
    generator_id: 'generator-1', path: name, labels: [], annotations: {}, latest_object: null, commit: null, ...extra,
  };
}

/** A deployment object with its commit, added to `state.objects` and reflected in its stack's latest_object. */
export function addObject(state: FakeState, stack: Json, seq: number, commit: CommitJson, marker = false): Json {
  const now = new Date().toISOString();
  const obj = {
    id: randomUUID(), created_at: now, updated_at: now, deleted_at: null, sequence_id: seq, stack_id: stack.id,
    yaml_content: marker ? '' : `kind: ConfigMap # ${seq}\n`,
    yaml_checksum: marker ? 'd41d8cd98f00b204e9800998ecf8427e' : `${seq}`.repeat(64).slice(0, 64),
    submitted_at: now, is_deletion_marker: marker, generator_id: 'generator-1', commit,
  };
  state.objects.push(obj);
  stack.latest_object = { id: obj.id, sequence_id: seq, yaml_checksum: obj.yaml_checksum, is_deletion_marker: marker, submitted_at: now };
  stack.commit = commit;
  return obj;
}
