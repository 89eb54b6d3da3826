/**
 * Outbound webhook subscriptions over HTTP, beyond brokkr's shapes (test/http/brokkr-contract.test.ts):
 * PUT changes one in place (URL re-checked, secret never shown, audited, 404/409/403), payload
 * filters decide which events become deliveries, and brokkr's removed fields are its 422.
 */
import { describe, expect, it } from 'vitest';
import { generatePak, hashPak } from '../../src/http/pak.js';
import { UrlPolicy } from '../../src/webhooks/url-policy.js';
import { startTestServer, UUID_RE, type TestServer } from './http-fixture.js';

const V1 = '/api/v1';
const YAML = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n';

/** A server whose URL policy allows 10.0.0.0/8 but not loopback, a subscription, and two agents holding one stack. */
async function world() {
  const s = await startTestServer({ webhookPolicy: new UrlPolicy(['10.0.0.0/8']) });
  const ids = await s.repo.commit([{ name: 'web', labels: ['prod'], yaml: YAML }]);
  const stackId = ids.get('web')!;
  const objectId = (await s.call('GET', `${V1}/stacks/${stackId}/deployment-objects`)).body[0].id as string;
  const [a, b] = [await s.createAgent({ name: 'edge-a', labels: ['prod'] }), await s.createAgent({ name: 'edge-b', labels: ['prod'] })];
  const created = await s.call('POST', `${V1}/webhooks`, { body: { name: 'ops', url: 'http://10.1.2.3/hook', event_types: ['deployment.*'], secret: 'first-secret' } });
  expect(created.status, created.text).toBe(201);
  const report = async (who: { agent: { id: string }; pak: string }, status = 'FAILURE') => {
    const r = await s.call('POST', `${V1}/agents/${who.agent.id}/events`, { pak: who.pak, body: { deployment_object_id: objectId, event_type: 'DEPLOY', status } });
    expect(r.status, r.text).toBe(201);
    return r.body.id as string;
  };
  return { s, stackId, a, b, hook: created.body as { id: string; updated_at: string }, report };
}

const deliveries = async (s: TestServer, id: string) => ((await s.call('GET', `${V1}/webhooks/${id}/deliveries`)).body as { event_id: string }[]).map((d) => d.event_id).sort();

describe('PUT /webhooks/{id}', () => {
  it('changes a subscription in place: same id, delivery log kept, secret rotated but never shown, audited', async () => {
    const { s, hook, a, report } = await world();
    const before = await report(a);
    const res = await s.call('PUT', `${V1}/webhooks/${hook.id}`, {
      body: { name: 'oncall', url: 'http://10.9.9.9/new', event_types: ['deployment.failed', 'agent.*'], secret: 'second-secret', timeout_seconds: 20, max_retries: 3, target_labels: null },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ id: hook.id, name: 'oncall', url: 'http://10.9.9.9/new', event_types: ['deployment.failed', 'agent.*'], has_secret: true, enabled: true, timeout_seconds: 20, filters: {} });
    expect(res.text).not.toContain('second-secret');
    expect((await s.call('GET', `${V1}/webhooks/${hook.id}`)).body).toEqual(res.body);
    const after = await report(a);
    expect(await deliveries(s, hook.id)).toEqual([before, after].sort());
    const audit = (await s.call('GET', `${V1}/audit-logs?action=webhook.updated`)).body;
    expect(audit.logs).toHaveLength(1);
    expect(audit.logs[0]).toMatchObject({ actor_name: 'admin', resource_type: 'webhook', resource_id: hook.id, details: { name: 'oncall', host: '10.9.9.9', changed: ['name', 'url', 'event_types', 'secret', 'timeout_seconds'] } });
    expect(JSON.stringify(audit)).not.toContain('second-secret');
  });

  it('enabled: false stops new deliveries, true brings them back; secret null makes it unsigned; an empty body changes nothing', async () => {
    const { s, hook, a, report } = await world();
    expect((await s.call('PUT', `${V1}/webhooks/${hook.id}`, { body: { enabled: false, secret: null } })).body).toMatchObject({ enabled: false, has_secret: false });
    await report(a);
    expect(await deliveries(s, hook.id)).toEqual([]);
    const same = await s.call('PUT', `${V1}/webhooks/${hook.id}`, { body: {} });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ enabled: false, name: 'ops' });
    await s.call('PUT', `${V1}/webhooks/${hook.id}`, { body: { enabled: true, name: null } });
    const e = await report(a);
    expect(await deliveries(s, hook.id)).toEqual([e]);
  });

  it('refuses with the reason: unknown id 404, bad id 400, taken name 409, URL not allowed 400, readonly 403 — and changes nothing', async () => {
    const { s, hook } = await world();
    await s.call('POST', `${V1}/webhooks`, { body: { name: 'taken', url: 'http://10.1.2.4/hook', event_types: ['*'] } });
    const put = (id: string, body: unknown, pak?: string) => s.call('PUT', `${V1}/webhooks/${id}`, { body, pak });
    const unknown = await put('00000000-0000-4000-8000-000000000001', { enabled: false });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'not_found']);
    expect((await put('not-a-uuid', { enabled: false })).status).toBe(400);
    const taken = await put(hook.id, { name: 'taken' });
    expect([taken.status, taken.body.code, taken.body.message]).toEqual([409, 'conflict', "a webhook subscription named 'taken' exists already"]);
    const loopback = await put(hook.id, { url: 'http://127.0.0.1:9/x' });
    expect(loopback.status).toBe(400);
    expect(loopback.body.message).toMatch(/^body\.url: .*127\.0\.0\.1 is a loopback address/);
    const typo = await put(hook.id, { event_types: ['deploymnet.failed'] });
    expect(typo.body.message).toMatch(/body\.event_types: unknown event type 'deploymnet.failed' \(did you mean 'deployment.failed'\?\)/);
    expect((await put(hook.id, { enable: false })).status).toBe(400);
    expect((await put(hook.id, { timeout_seconds: 0 })).status).toBe(400);
    const readonlyPak = generatePak();
    await s.store.createOperator({ name: 'viewer', role: 'readonly', pak_hash: hashPak(readonlyPak) });
    const ro = await put(hook.id, { enabled: false }, readonlyPak);
    expect([ro.status, ro.body.code]).toEqual([403, 'forbidden']);
    expect(ro.body.message).toMatch(/readonly PAK: it may read but not write/);
    const now = (await s.call('GET', `${V1}/webhooks/${hook.id}`)).body;
    expect(now).toMatchObject({ name: 'ops', url: 'http://10.1.2.3/hook', enabled: true, updated_at: hook.updated_at });
    expect((await s.call('GET', `${V1}/audit-logs?action=webhook.updated`)).body.logs).toEqual([]);
  });
});

describe('payload filters and brokkr’s removed fields', () => {
  it('filters.agent_id / filters.stack_id: only events whose data carries those values become deliveries; PUT replaces or removes them', async () => {
    const { s, stackId, a, b, report } = await world();
    const mine = await s.call('POST', `${V1}/webhooks`, {
      body: { name: 'mine', url: 'http://10.1.2.5/hook', event_types: ['*'], filters: { agent_id: a.agent.id.toUpperCase(), stack_id: stackId } },
    });
    expect(mine.status, mine.text).toBe(201);
    expect(mine.body.filters).toEqual({ agent_id: a.agent.id, stack_id: stackId });
    const fromA = await report(a);
    await report(b);
    expect(await deliveries(s, mine.body.id)).toEqual([fromA]);
    // stack_id only: both agents' events on the stack; {} or null: none.
    expect((await s.call('PUT', `${V1}/webhooks/${mine.body.id}`, { body: { filters: { stack_id: stackId } } })).body.filters).toEqual({ stack_id: stackId });
    const fromB = await report(b);
    expect(await deliveries(s, mine.body.id)).toEqual([fromA, fromB].sort());
    expect((await s.call('PUT', `${V1}/webhooks/${mine.body.id}`, { body: { filters: null } })).body.filters).toEqual({});
    const bad = await s.call('POST', `${V1}/webhooks`, { body: { name: 'bad', url: 'http://10.1.2.6/h', event_types: ['*'], filters: { agent_id: 'edge-a' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe('body.filters.agent_id must be a UUID');
    const ids = (await s.call('GET', `${V1}/webhooks/${mine.body.id}/deliveries`)).body.map((d: { event_id: string }) => d.event_id);
    expect(ids.every((id: string) => UUID_RE.test(id))).toBe(true);
  });

  it('filters.labels is brokkr’s 422 naming target_labels, on POST and PUT; validate is 422 on POST; target_labels and auth_header are refused with our reason', async () => {
    const { s, hook } = await world();
    const create = (extra: Record<string, unknown>) => s.call('POST', `${V1}/webhooks`, { body: { name: 'x', url: 'http://10.1.2.7/h', event_types: ['*'], ...extra } });
    for (const res of [await create({ filters: { labels: ['prod'] } }), await s.call('PUT', `${V1}/webhooks/${hook.id}`, { body: { filters: { labels: null } } })]) {
      expect(res.status, res.text).toBe(422);
      expect(res.body.code).toBe('unsupported_field');
      expect(res.body.message).toMatch(/^body\.filters\.labels is no longer accepted .*use target_labels/);
    }
    const validate = await create({ validate: true });
    expect([validate.status, validate.body.code]).toEqual([422, 'unsupported_field']);
    expect(validate.body.message).toContain('POST /webhooks/{id}/test');
    const labels = await s.call('PUT', `${V1}/webhooks/${hook.id}`, { body: { target_labels: ['prod'] } });
    expect([labels.status, labels.body.message]).toEqual([400, 'body.target_labels: agent-side delivery is not offered; the daemon delivers every webhook itself']);
    const auth = await s.call('PUT', `${V1}/webhooks/${hook.id}`, { body: { auth_header: 'Bearer x' } });
    expect(auth.status).toBe(400);
    expect(auth.body.message).toMatch(/^body\.auth_header: /);
    expect((await s.call('GET', `${V1}/webhooks`)).body.map((w: { name: string }) => w.name)).toEqual(['ops']);
  });
});
