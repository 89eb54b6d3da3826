/**
 * brokkr v1 wire compatibility, held to brokkr's published OpenAPI document: on every route we
 * share (fixtures/brokkr-v1/routes.json), the request brokkr's clients send is accepted, and the
 * answer has brokkr's status code and validates against brokkr's response schema (required
 * fields, types, uuid and date-time formats). Routes that would write stacks or objects by API
 * answer 409 git_managed, naming the repository and path to commit to.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './http-fixture.js';
import { loadBrokkrV1, type BrokkrRoute } from './brokkr-v1-contract.js';
import { UrlPolicy } from '../../src/webhooks/url-policy.js';

const brokkr = loadBrokkrV1();
const V1 = '/api/v1';
const YAML = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n';

interface World {
  s: TestServer;
  agent: { id: string; name: string; cluster_name: string; pak: string };
  stackId: string;
  /** A stack the agent does not target. */
  otherStackId: string;
  objectId: string;
  generatorId: string;
  /** An event the agent reported on objectId. */
  eventId: string;
  /** An outbound webhook subscription (to deployment.*: the event above is one of its deliveries). */
  webhookId: string;
}

/**
 * One agent made the brokkr way (POST /agents, then labels, annotations and a target with
 * brokkr's bodies), a synced stack it is associated with, and the stack's object.
 */
async function buildWorld(keep: 'test' | 'file' = 'test'): Promise<World> {
  // Nothing listens on 127.0.0.1:9: a test send fails, and nothing else is sent (this server runs no delivery worker).
  const s = await startTestServer({ webhookPolicy: new UrlPolicy(['127.0.0.1']) }, { keep });
  const webhook = await s.call('POST', `${V1}/webhooks`, { body: { name: 'ops', url: 'http://127.0.0.1:9/hook', event_types: ['deployment.*'] } });
  expect(webhook.status, webhook.text).toBe(201);
  const ids = await s.repo.commit([
    { name: 'web', labels: ['brokkr-label', 'prod'], annotations: { region: 'eu-west-1' }, yaml: YAML },
    { name: 'api', yaml: YAML.replace('web', 'api') },
  ]);
  const stackId = ids.get('web')!;
  const created = await s.call('POST', `${V1}/agents`, { body: { name: 'edge-1', cluster_name: 'brokkr-cluster' } });
  expect(created.status, created.text).toBe(201);
  const agent = { ...created.body.agent, pak: created.body.initial_pak };
  for (const [path, body] of [
    ['labels', { agent_id: agent.id, label: 'brokkr-label' }],
    ['annotations', { agent_id: agent.id, key: 'region', value: 'eu-west-1' }],
    ['targets', { agent_id: agent.id, stack_id: stackId }],
  ] as const) {
    const res = await s.call('POST', `${V1}/agents/${agent.id}/${path}`, { body });
    expect(res.status, `${path}: ${res.text}`).toBe(201);
  }
  const objectId = (await s.call('GET', `${V1}/stacks/${stackId}/deployment-objects`)).body[0].id;
  const event = await s.call('POST', `${V1}/agents/${agent.id}/events`, {
    pak: agent.pak,
    body: { deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS' },
  });
  expect(event.status, event.text).toBe(201);
  // …and its health there, with brokkr's structured summary, so the health reads have records to hold to brokkr's shapes.
  const health = await s.call('PATCH', `${V1}/agents/${agent.id}/health-status`, {
    pak: agent.pak,
    body: { deployment_objects: [{ id: objectId, status: 'degraded', summary: { pods_ready: 1, pods_total: 3, conditions: ['CrashLoopBackOff'] }, checked_at: '2026-01-01T00:00:00Z' }] },
  });
  expect(health.status, health.text).toBe(200);
  return { s, agent, stackId, otherStackId: ids.get('api')!, objectId, generatorId: await s.repo.generatorId(), eventId: event.body.id, webhookId: webhook.body.id };
}

/** Replace the fixture's placeholders with the world's values, in strings anywhere in a value. */
function fill<T>(value: T, w: World): T {
  const words: Record<string, string> = {
    '{agent}': w.agent.id,
    '{agent_name}': w.agent.name,
    '{agent_cluster}': w.agent.cluster_name,
    '{stack}': w.stackId,
    '{other_stack}': w.otherStackId,
    '{object}': w.objectId,
    '{generator}': w.generatorId,
    '{event}': w.eventId,
    '{webhook}': w.webhookId,
    '{fresh}': 'edge-2',
  };
  return JSON.parse(JSON.stringify(value), (_key, v) => (typeof v === 'string' && v in words ? words[v] : v));
}

function urlOf(route: BrokkrRoute, w: World): string {
  const params = fill(route.params ?? {}, w);
  const path = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(params[name]!));
  const query = route.query ? `?${new URLSearchParams(fill(route.query, w))}` : '';
  return `${V1}${path}${query}`;
}

async function send(route: BrokkrRoute, w: World, pak = route.as === 'admin' ? w.s.adminPak : w.agent.pak) {
  return w.s.call(route.method, urlOf(route, w), { pak, body: route.body === undefined ? undefined : fill(route.body, w) });
}

/**
 * One world, built once and kept for the file, for the route tests that cannot change it: GET
 * routes, and the git_managed routes (refused, which their test asserts). Every other test builds
 * its own.
 */
let readOnly: Promise<World> | undefined;
const worldFor = (route: BrokkrRoute) => (route.method === 'GET' || route.code === 'git_managed' ? (readOnly ??= buildWorld('file')) : buildWorld());

const label = (r: BrokkrRoute) => `${r.method} ${r.path}${r.code ? ` → ${r.code}` : ''}`;
const compatible = brokkr.routes.filter((r) => r.code !== 'git_managed');
const gitManaged = brokkr.routes.filter((r) => r.code === 'git_managed');

describe('brokkr v1 contract: the fixture', () => {
  it('names its source, and classifies each brokkr route once', () => {
    expect(brokkr.source).toMatchObject({ repository: 'https://github.com/colliery-io/brokkr', path: 'openapi/brokkr-v1.json' });
    expect(brokkr.source.commit).toMatch(/^[0-9a-f]{40}$/);
    const keys = [...brokkr.routes, ...brokkr.notOffered].map((r) => `${r.method} ${r.path}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(compatible.length).toBeGreaterThanOrEqual(30);
    for (const r of brokkr.notOffered) expect(r.why.length, `${r.method} ${r.path}`).toBeGreaterThan(10);
  });

  it('the nullable translation accepts null where brokkr allows it and nowhere else', () => {
    const agent = { id: '123e4567-e89b-42d3-a456-426614174000', created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z', name: 'a', cluster_name: 'c', status: 'ACTIVE' };
    expect(brokkr.check({ $ref: 'Agent' }, { ...agent, last_heartbeat: null, k8s_reachable: null })).toEqual([]);
    expect(brokkr.check({ $ref: 'Agent' }, { ...agent, name: null })).not.toEqual([]);
    expect(brokkr.check({ $ref: 'Agent' }, { ...agent, id: 'not-a-uuid' }).join()).toContain('uuid');
    expect(brokkr.check({ $ref: 'Agent' }, { ...agent, created_at: 'yesterday' }).join()).toContain('date-time');
  });
});

describe('brokkr v1 contract: shared routes', () => {
  it.each(compatible.map((r) => [label(r), r] as const))('%s: brokkr’s request is accepted, the answer validates against brokkr’s schema', async (_name, route) => {
    const w = await worldFor(route);
    const res = await send(route, w);
    expect(res.status, res.text).toBe(route.status);
    if (route.response) expect(brokkr.check(route.response, res.body), res.text).toEqual([]);
    else expect(res.text).toBe('');
  });

  it.each(gitManaged.map((r) => [label(r), r] as const))('%s: 409 naming the repository and the stack’s path', async (_name, route) => {
    const w = await worldFor(route);
    const res = await send(route, w);
    expect(res.status, res.text).toBe(409);
    expect(brokkr.check(route.response!, res.body)).toEqual([]);
    expect(res.body.code).toBe('git_managed');
    expect(res.body.message).toContain('/tmp/test-repo (branch main)');
    if (route.params) expect(res.body.message).toMatch(/ web\/(stack\.yaml)? /);
    // The same route is still an admin route: an agent is refused before anything else.
    expect((await send(route, w, w.agent.pak)).status).toBe(403);
  });

  it('git_managed routes on an unknown stack answer 404', async () => {
    const w = await buildWorld();
    const res = await w.s.call('DELETE', `${V1}/stacks/00000000-0000-4000-8000-000000000000`);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
  });

  it('a raw YAML deployment object (brokkr’s other content type) gets the same 409, not a 415', async () => {
    const w = await buildWorld();
    const res = await w.s.call('POST', `${V1}/stacks/${w.stackId}/deployment-objects`, { raw: YAML, headers: { 'content-type': 'application/yaml' } });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('git_managed');
    expect(res.body.message).toContain('web/');
  });
});

describe('brokkr v1 contract: agent_id in bodies', () => {
  const OTHER = '00000000-0000-4000-8000-000000000001';
  it.each([
    ['labels', { agent_id: OTHER, label: 'x' }],
    ['annotations', { agent_id: OTHER, key: 'k', value: 'v' }],
    ['targets', { agent_id: OTHER, stack_id: '{stack}' }],
    ['events', { agent_id: OTHER, deployment_object_id: '{object}', event_type: 'DEPLOY', status: 'SUCCESS' }],
  ])('POST /agents/{id}/%s with another agent_id is 400 agent_id_mismatch and changes nothing', async (path, body) => {
    const w = await buildWorld();
    const before = await w.s.call('GET', `${V1}/agents/${w.agent.id}/${path}`);
    const res = await w.s.call('POST', `${V1}/agents/${w.agent.id}/${path}`, { body: fill(body, w) });
    expect(res.status, res.text).toBe(400);
    expect(res.body.code).toBe('agent_id_mismatch');
    expect(brokkr.check({ $ref: 'ErrorResponse' }, res.body)).toEqual([]);
    expect((await w.s.call('GET', `${V1}/agents/${w.agent.id}/${path}`)).body).toEqual(before.body);
  });

  it('the same bodies without agent_id, or with it in upper case, still work', async () => {
    const w = await buildWorld();
    const upper = w.agent.id.toUpperCase();
    expect((await w.s.call('POST', `${V1}/agents/${w.agent.id}/labels`, { body: { label: 'plain' } })).status).toBe(201);
    expect((await w.s.call('POST', `${V1}/agents/${w.agent.id}/labels`, { body: { agent_id: upper, label: 'upper' } })).status).toBe(201);
    expect((await w.s.call('POST', `${V1}/agents/${w.agent.id}/annotations`, { body: { key: 'tier', value: 'web' } })).status).toBe(201);
    const labels = (await w.s.call('GET', `${V1}/agents/${w.agent.id}/labels`)).body.map((l: { label: string }) => l.label);
    expect(labels).toEqual(expect.arrayContaining(['plain', 'upper']));
  });
});

describe('brokkr v1 contract: heartbeat reports', () => {
  it('a report is kept and shown on the agent; no body and {} keep it; a new report replaces it', async () => {
    const w = await buildWorld();
    const hb = (body?: unknown) => w.s.call('POST', `${V1}/agents/${w.agent.id}/heartbeat`, { pak: w.agent.pak, body });
    const read = async () => (await w.s.call('GET', `${V1}/agents/${w.agent.id}`)).body;
    expect((await read()).k8s_reachable).toBeNull();
    expect((await hb({ k8s_reachable: true, k8s_api_latency_ms: 12 })).status).toBe(204);
    const first = await read();
    expect(first).toMatchObject({ k8s_reachable: true, k8s_api_latency_ms: 12, status: 'ACTIVE' });
    expect(brokkr.check({ $ref: 'Agent' }, first)).toEqual([]);
    expect((await hb()).status).toBe(204);
    expect((await hb({})).status).toBe(204);
    expect((await hb({ k8s_api_latency_ms: 99 })).status).toBe(204);
    expect(await read()).toMatchObject({ k8s_reachable: true, k8s_api_latency_ms: 12, k8s_reported_at: first.k8s_reported_at });
    expect((await hb({ k8s_reachable: false, k8s_api_latency_ms: null })).status).toBe(204);
    expect(await read()).toMatchObject({ k8s_reachable: false, k8s_api_latency_ms: null });
  });

  it.each([[{ k8s_reachable: 'yes' }], [{ k8s_api_latency_ms: -1 }], [{ k8s_api_latency_ms: 1.5 }], [{ colour: 'red' }]])('%j is a 400', async (body) => {
    const w = await buildWorld();
    const res = await w.s.call('POST', `${V1}/agents/${w.agent.id}/heartbeat`, { pak: w.agent.pak, body });
    expect(res.status, res.text).toBe(400);
    expect(res.body.code).toBe('bad_request');
  });
});

describe('brokkr v1 contract: agent records round-trip', () => {
  it('PUT /agents/{id} takes back the record GET returned, changed; another id in it is a 400', async () => {
    const w = await buildWorld();
    const record = (await w.s.call('GET', `${V1}/agents/${w.agent.id}`)).body;
    const res = await w.s.call('PUT', `${V1}/agents/${w.agent.id}`, { body: { ...record, status: 'INACTIVE' } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ id: w.agent.id, status: 'INACTIVE', created_at: record.created_at });
    const other = await w.s.call('PUT', `${V1}/agents/${w.agent.id}`, { body: { ...record, id: '00000000-0000-4000-8000-000000000001' } });
    expect(other.status).toBe(400);
  });

  it('POST /agents takes brokkr’s generator_ids: known generators are fine, an unknown one is a 400', async () => {
    const w = await buildWorld();
    const ok = await w.s.call('POST', `${V1}/agents`, { body: { name: 'g1', cluster_name: 'c', generator_ids: [w.generatorId] } });
    expect(ok.status, ok.text).toBe(201);
    const bad = await w.s.call('POST', `${V1}/agents`, { body: { name: 'g2', cluster_name: 'c', generator_ids: ['00000000-0000-4000-8000-000000000001'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('generator_ids');
  });
});

/** The README's "Coming from brokkr" script, exactly as printed there. */
function readmeExample(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const match = /<!-- brokkr-example:[^>]*-->\n```sh\n([\s\S]*?)```/.exec(readme);
  if (!match) throw new Error('README.md has no brokkr-example block');
  return match[1]!;
}

const onPath = (tool: string) => (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, tool)));

describe('brokkr v1 contract: the README example', () => {
  it('runs against a real server and prints what the README says', async () => {
    // The example is a shell script with curl and jq, as brokkr users write them; a missing tool fails the test.
    for (const tool of ['curl', 'jq']) {
      if (!onPath(tool)) throw new Error(`${tool} is not installed: install it (apt-get install ${tool}) to run this test; .ci/run does`);
    }
    const s = await startTestServer();
    const ids = await s.repo.commit([
      { name: 'payments', labels: ['prod'], yaml: YAML },
      { name: 'staging-only', labels: ['staging'], yaml: YAML },
    ]);
    const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', readmeExample()], {
      env: { PATH: process.env.PATH, BROKKR_URL: s.base, BROKKR_PAK: s.adminPak },
    });
    expect(stdout.trim().split('\n')).toEqual(['prod', ids.get('payments'), 'git_managed']);
    const agent = (await s.call('GET', `${V1}/agents/?name=edge-1&cluster_name=prod-eu`)).body;
    expect(agent).toMatchObject({ status: 'ACTIVE', k8s_reachable: true, k8s_api_latency_ms: 12 });
  });
});
