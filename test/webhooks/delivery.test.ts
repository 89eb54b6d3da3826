/** Outbound webhooks end to end: a daemon, a real receiver on 127.0.0.1, subscriptions made over the API. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { webhooksOf } from '../../src/store/webhooks-of.js';
import { closedPort, startReceiver, until, type Receiver } from './receiver.js';
import { agentWithObject, api, daemon, onCleanup, report, stackRepo, processReady } from './daemon-world.js';

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  onCleanup(() => r.close());
  return r;
}

/** How a user checks a delivery: HMAC-SHA256 of the raw body with the shared secret, compared in constant time. */
function signatureValid(secret: string, body: Buffer, header: string | string[] | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const got = Buffer.from(String(header ?? ''));
  return got.length === expected.length && timingSafeEqual(got, expected);
}

describe('outbound webhooks', () => {
  it('a deployment event reaches the receiver as a signed JSON POST with the event and a delivery id; the log shows it delivered', async () => {
    const rx = await receiver();
    const d = await daemon(stackRepo());
    const sub = await api(d.url, 'POST', '/webhooks', { name: 'ops', url: rx.url('/ok'), event_types: ['deployment.*'], secret: 'shh-its-a-secret' });
    expect(sub.status).toBe(201);
    expect(sub.body).toMatchObject({ name: 'ops', has_secret: true, event_types: ['deployment.*'], format: 'json' });
    expect(JSON.stringify(sub.body)).not.toContain('shh-its-a-secret');
    expect(JSON.stringify((await api(d.url, 'GET', '/webhooks')).body)).not.toContain('shh-its-a-secret');

    const agent = await agentWithObject(d.url);
    const eventId = await report(d.url, agent, 'FAILURE', 'ImagePullBackOff');
    const got = await until(() => rx.to('/ok')[0], 'the delivery');
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['x-brokkr-event']).toBe('deployment.failed');
    expect(signatureValid('shh-its-a-secret', got.body, got.headers['x-brokkr-signature-256'])).toBe(true);
    expect(signatureValid('another-secret', got.body, got.headers['x-brokkr-signature-256'])).toBe(false);
    const body = JSON.parse(got.body.toString());
    expect(body).toMatchObject({ id: eventId, event_type: 'deployment.failed', data: { agent_id: agent.id, agent_name: 'edge', stack_name: 'web', status: 'FAILURE', message: 'ImagePullBackOff' } });

    const log = await until(async () => {
      const r = await api(d.url, 'GET', `/webhooks/${sub.body.id}/deliveries`);
      return r.body[0]?.status === 'success' ? r.body : null;
    }, 'the delivery recorded as success');
    expect(log[0]).toMatchObject({ id: got.headers['x-brokkr-delivery-id'], event_id: eventId, attempts: 1, last_status_code: 200, response_excerpt: 'thanks', last_error: null });
    const metrics = await (await fetch(`${d.url}/metrics`)).text();
    expect(metrics).toMatch(/^brokkr_webhook_deliveries\{status="success"\} 1$/m);
    expect(metrics).toMatch(/^brokkr_webhook_attempts_total\{outcome="success"\} 1$/m);
  });

  it('bad subscriptions are refused with the reason: unknown event type, scheme, internal address not allowed', async () => {
    const rx = await receiver();
    const d = await daemon(stackRepo(), { webhooks: { allowHosts: [] } });
    const bad = async (body: Record<string, unknown>) => {
      const r = await api(d.url, 'POST', '/webhooks', { name: 'x', url: 'https://hooks.example.com/x', event_types: ['*'], ...body });
      expect(r.status).toBe(400);
      return r.body.message as string;
    };
    expect(await bad({ event_types: ['deployment.aplied'] })).toMatch(/unknown event type 'deployment.aplied' \(did you mean 'deployment.applied'\?\)/);
    expect(await bad({ url: 'ftp://hooks.example.com/x' })).toMatch(/scheme ftp is not allowed: use http or https/);
    expect(await bad({ url: 'not a url' })).toMatch(/not a valid absolute URL/);
    expect(await bad({ url: rx.url('/ok') })).toMatch(/127\.0\.0\.1 is a loopback address.*--webhook-allow-hosts 127\.0\.0\.1/);
    expect(await bad({ url: 'http://169.254.169.254/latest/meta-data' })).toMatch(/link-local/);
    expect(await bad({ url: 'http://[::1]:8080/x' })).toMatch(/loopback/);
    expect(await bad({ url: 'http://localhost:9/x' })).toMatch(/localhost resolves to .*loopback/);
    // brokkr's fields that would change what is delivered are refused, not dropped.
    expect(await bad({ auth_header: 'Bearer t0ken' })).toMatch(/auth_header: .*set a secret/);
    expect(await bad({ filters: { stack_id: 'web' } })).toBe('body.filters.stack_id must be a UUID');
    expect(await bad({ target_labels: ['prod'] })).toMatch(/target_labels: agent-side delivery is not offered/);
    expect(rx.requests).toEqual([]);
    expect((await api(d.url, 'GET', '/webhooks')).body).toEqual([]);
  });

  it('slow, refusing, redirecting, failing and hanging receivers end retried or dead with the last error, without holding up the others or the API', async () => {
    const rx = await receiver();
    const down = await closedPort();
    const d = await daemon(stackRepo(), { webhooks: { allowHosts: ['127.0.0.1'], concurrency: 4 } });
    const subscribe = async (name: string, url: string) =>
      (await api(d.url, 'POST', '/webhooks', { name, url, event_types: ['deployment.applied'], timeout_seconds: 1 })).body.id as string;
    const ids = {
      hang: await subscribe('hang', rx.url('/hang')),
      hang2: await subscribe('hang2', rx.url('/hang')),
      slow: await subscribe('slow', rx.url('/slow')),
      fails: await subscribe('fails', rx.url('/500')),
      redirects: await subscribe('redirects', rx.url('/redirect')),
      down: await subscribe('down', `http://127.0.0.1:${down}/hook`),
      rejects: await subscribe('rejects', rx.url('/404')),
      ok: await subscribe('ok', rx.url('/ok')),
    };
    await processReady(d); // FAST_RETRY's window starts with the event
    const agent = await agentWithObject(d.url);
    await report(d.url, agent, 'SUCCESS');
    // Two hanging receivers hold two of the four slots; the API answers and the good receivers get theirs meanwhile.
    await until(() => rx.to('/hang').length >= 2 && rx.to('/ok').length >= 1 && rx.to('/slow').some((r) => r.answered === 200), 'the good receivers served while two hang');
    expect((await api(d.url, 'GET', '/agents')).status).toBe(200);

    const final = async (id: string) =>
      until(async () => {
        const [row] = (await api(d.url, 'GET', `/webhooks/${id}/deliveries`)).body;
        return row && (row.status === 'dead' || row.status === 'success') ? row : null;
      }, `delivery of ${id} to end`);
    expect(await final(ids.ok)).toMatchObject({ status: 'success', attempts: 1 });
    expect(await final(ids.slow)).toMatchObject({ status: 'success', attempts: 1, response_excerpt: 'slow thanks' });
    const fails = await final(ids.fails);
    expect(fails).toMatchObject({ status: 'dead', last_status_code: 500, response_excerpt: 'receiver broke' });
    expect(fails.last_error).toMatch(/^HTTP 500 Internal Server Error \(gave up after \d+ attempts\)$/);
    expect(fails.attempts).toBeGreaterThan(1);
    expect(rx.to('/500')).toHaveLength(fails.attempts);
    const redirects = await final(ids.redirects);
    expect(redirects).toMatchObject({ status: 'dead', last_status_code: 302 });
    expect(redirects.last_error).toMatch(/HTTP 302 redirect to \/ok not followed/);
    expect(rx.to('/redirect')).toHaveLength(redirects.attempts);
    const downed = await final(ids.down);
    expect(downed).toMatchObject({ status: 'dead', last_status_code: null });
    expect(downed.last_error).toMatch(new RegExp(`cannot reach 127\\.0\\.0\\.1:${down}: ECONNREFUSED`));
    expect(downed.attempts).toBeGreaterThan(1);
    // A 4xx other than 408/425/429 says the request itself is wrong: final at once.
    expect(await final(ids.rejects)).toMatchObject({ status: 'dead', attempts: 1, last_status_code: 404, last_error: 'HTTP 404 Not Found' });
    const hung = await final(ids.hang);
    expect(hung.status).toBe('dead');
    expect(hung.last_error).toMatch(/^no answer within 1 s/);
    // Every redirect went unfollowed: /ok saw the one delivery of its own subscription only.
    expect(rx.to('/ok')).toHaveLength(1);
  });

  it('format slack posts {text}, signed the same way', async () => {
    const rx = await receiver();
    const d = await daemon(stackRepo());
    await api(d.url, 'POST', '/webhooks', { name: 'chat', url: rx.url('/ok'), event_types: ['deployment.failed'], format: 'slack', secret: 'k' });
    const agent = await agentWithObject(d.url);
    await report(d.url, agent, 'SUCCESS');
    await report(d.url, agent, 'FAILURE', 'CrashLoopBackOff');
    const got = await until(() => rx.to('/ok')[0], 'the slack message');
    expect(JSON.parse(got.body.toString())).toEqual({ text: expect.stringMatching(/^:x: web #\d+ failed on edge \(eu\): CrashLoopBackOff$/) });
    expect(signatureValid('k', got.body, got.headers['x-brokkr-signature-256'])).toBe(true);
    expect(rx.requests).toHaveLength(1);
  });

  it('an agent that stops heartbeating is reported offline once, and online when it heartbeats again', async () => {
    const rx = await receiver();
    const d = await daemon(stackRepo(), { webhooks: { allowHosts: ['127.0.0.1'], offlineAfterMs: 400 } });
    await api(d.url, 'POST', '/webhooks', { name: 'presence', url: rx.url('/ok'), event_types: ['agent.*'] });
    const agent = await agentWithObject(d.url);
    await api(d.url, 'POST', `/agents/${agent.id}/heartbeat`, undefined, agent.pak);
    const offline = await until(() => rx.to('/ok').find((r) => r.headers['x-brokkr-event'] === 'agent.offline'), 'agent.offline');
    expect(JSON.parse(offline.body.toString()).data).toMatchObject({ agent_id: agent.id, agent_name: 'edge', offline_after_seconds: 0 });
    await api(d.url, 'POST', `/agents/${agent.id}/heartbeat`, undefined, agent.pak);
    await until(() => rx.to('/ok').find((r) => r.headers['x-brokkr-event'] === 'agent.online'), 'agent.online');
    expect(rx.to('/ok').filter((r) => r.headers['x-brokkr-event'] === 'agent.offline')).toHaveLength(1);
  });

  it('a delivery waiting for its retry survives a daemon restart and arrives exactly once', async () => {
    const rx = await receiver();
    const repo = stackRepo();
    const retry = { baseMs: 400, maxMs: 400, retryForMs: 600_000 };
    const first = await daemon(repo, { webhooks: { allowHosts: ['127.0.0.1'], retry } });
    const sub = await api(first.url, 'POST', '/webhooks', { name: 'flaky', url: rx.url('/flaky'), event_types: ['*'] });
    const agent = await agentWithObject(first.url);
    await report(first.url, agent, 'SUCCESS');
    const waiting = await until(async () => {
      const [row] = await webhooksOf(first.store).listDeliveries(sub.body.id);
      return row?.status === 'failed' ? row : null;
    }, 'a failed attempt');
    const db = (first.store as unknown as { db: { raw: { name: string } } }).db.raw.name;
    await first.close();
    rx.flakyOk = true;
    const second = await daemon(repo, { db, webhooks: { allowHosts: ['127.0.0.1'], retry } });
    const done = await until(async () => {
      const row = await webhooksOf(second.store).getDelivery(waiting.id);
      return row?.status === 'success' ? row : null;
    }, 'the delivery after the restart');
    expect(done.attempts).toBeGreaterThan(waiting.attempts);
    const answered = rx.to('/flaky').filter((r) => r.answered === 200);
    expect(answered.map((r) => r.headers['x-brokkr-delivery-id'])).toEqual([waiting.id]);
    expect(new Set(rx.to('/flaky').map((r) => r.headers['x-brokkr-delivery-id']))).toEqual(new Set([waiting.id]));
  });

  it('a URL allowed when subscribed is checked again at send time: once the operator withdraws the allowance it is refused, by address and by name', async () => {
    const rx = await receiver();
    const repo = stackRepo();
    const first = await daemon(repo, { webhooks: { allowHosts: ['127.0.0.1', 'localhost'] } });
    const port = new URL(rx.url('/ok')).port;
    const byAddress = await api(first.url, 'POST', '/webhooks', { name: 'by-address', url: rx.url('/ok'), event_types: ['*'] });
    const byName = await api(first.url, 'POST', '/webhooks', { name: 'by-name', url: `http://localhost:${port}/ok`, event_types: ['*'] });
    expect([byAddress.status, byName.status]).toEqual([201, 201]);
    const db = (first.store as unknown as { db: { raw: { name: string } } }).db.raw.name;
    await first.close();
    const second = await daemon(repo, { db, webhooks: { allowHosts: [] } });
    const agent = await agentWithObject(second.url);
    await report(second.url, agent, 'SUCCESS');
    for (const [sub, why] of [
      [byAddress.body.id, /127\.0\.0\.1 is a loopback address/],
      [byName.body.id, /localhost resolves to .*, a loopback address/],
    ] as const) {
      const row = await until(async () => {
        const [d] = (await api(second.url, 'GET', `/webhooks/${sub}/deliveries`)).body;
        return d?.status === 'dead' ? d : null;
      }, 'the refused delivery');
      expect(row.attempts).toBe(1);
      expect(row.last_error).toMatch(why);
    }
    expect(rx.requests).toEqual([]);
  });

  it('a commit that breaks a stack is reported as stack.invalid with its file, line and message', async () => {
    const rx = await receiver();
    const repo = stackRepo();
    const d = await daemon(repo);
    await api(d.url, 'POST', '/webhooks', { name: 'ci', url: rx.url('/ok'), event_types: ['stack.invalid', 'sync.failed'] });
    repo.writeAll({ 'web/stack.yaml': 'lables: [prod]\n' });
    const sha = repo.commit('typo');
    const got = await until(() => rx.to('/ok')[0], 'stack.invalid');
    expect(got.headers['x-brokkr-event']).toBe('stack.invalid');
    const data = JSON.parse(got.body.toString()).data;
    expect(data).toMatchObject({ stack_path: 'web', commit_sha: sha, file: 'web/stack.yaml', line: 1 });
    expect(data.message).toMatch(/lables.*did you mean.*labels/);
  });

  it('POST /webhooks/{id}/test sends a webhook.test now and says how the receiver answered', async () => {
    const rx = await receiver();
    const d = await daemon(stackRepo());
    const ok = await api(d.url, 'POST', '/webhooks', { name: 'ok', url: rx.url('/ok'), event_types: ['*'], secret: 's' });
    const broken = await api(d.url, 'POST', '/webhooks', { name: 'broken', url: rx.url('/500'), event_types: ['*'] });
    expect((await api(d.url, 'POST', `/webhooks/${ok.body.id}/test`)).body).toEqual({ success: true, status_code: 200, message: 'Test delivery successful' });
    expect((await api(d.url, 'POST', `/webhooks/${broken.body.id}/test`)).body).toEqual({ success: false, status_code: 500, message: 'HTTP 500 Internal Server Error' });
    expect(signatureValid('s', rx.to('/ok')[0]!.body, rx.to('/ok')[0]!.headers['x-brokkr-signature-256'])).toBe(true);
    expect((await api(d.url, 'GET', `/webhooks/${ok.body.id}/deliveries`)).body).toEqual([]);
    expect((await api(d.url, 'GET', '/webhooks/event-types')).body).toContain('agent.offline');
    expect((await api(d.url, 'DELETE', `/webhooks/${broken.body.id}`)).status).toBe(204);
    expect((await api(d.url, 'GET', `/webhooks/${broken.body.id}`)).status).toBe(404);
    // Both writes are in the audit log, with the host but never the secret or the URL's path.
    const audit = await api(d.url, 'GET', '/audit-logs?action=webhook.*');
    const rows = (audit.body.logs ?? audit.body) as { action: string; resource_id: string; details: Record<string, unknown> }[];
    expect(rows.map((r) => [r.action, r.resource_id])).toEqual(
      expect.arrayContaining([
        ['webhook.created', ok.body.id],
        ['webhook.created', broken.body.id],
        ['webhook.deleted', broken.body.id],
      ]),
    );
    expect(rows.find((r) => r.resource_id === ok.body.id)!.details).toMatchObject({ name: 'ok', host: new URL(rx.url('/ok')).host, signed: true, event_types: ['*'] });
    expect(JSON.stringify(audit.body)).not.toMatch(/"s"|\/ok|\/500/);
  });
});
