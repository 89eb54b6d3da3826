/** `brokkr-sync webhooks update` (in-process, as main.ts parses it) against a real server: each flag changes what it says, refusals are clear. */
import { describe, expect, it } from 'vitest';
import { UrlPolicy } from '../../src/webhooks/url-policy.js';
import { startTestServer } from '../http/http-fixture.js';
import { runCli } from './admin-run-cli.js';

const YAML = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n';

async function world() {
  const s = await startTestServer({ webhookPolicy: new UrlPolicy(['10.0.0.0/8']) });
  const ids = await s.repo.commit([{ name: 'web', yaml: YAML }]);
  const { agent } = await s.createAgent({ name: 'edge-1' });
  const env = { BROKKR_URL: s.base, BROKKR_PAK: s.adminPak, NEW_SECRET: 'rotated-secret-42' };
  const added = await runCli(['webhooks', 'add', 'oncall', 'http://10.1.1.1/hook', '--event', 'deployment.failed', '--secret', 'first'], env);
  expect(added.stderr).toBe('');
  const get = async () => (await s.call('GET', '/api/v1/webhooks')).body[0];
  return { s, env, get, stackId: ids.get('web')!, agent };
}

describe('brokkr-sync webhooks update', () => {
  it('changes URL, events, secret, name, timeout, filters and on/off in place, and says what it changed', async () => {
    const { s, env, get, stackId, agent } = await world();
    const { id } = await get();
    const r = await runCli(['webhooks', 'update', 'oncall', '--hook-url', 'http://10.2.2.2/v2', '--events', 'deployment.*,rollout.halted', '--secret-env', 'NEW_SECRET', '--timeout', '20', '--stack', 'web', '--disable'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Updated oncall (${id}): URL http://10.2.2.2/v2; events deployment.*, rollout.halted; secret rotated; timeout 20 s; filters stack=${stackId.slice(0, 8)}; disabled.\n`);
    expect(await get()).toMatchObject({ id, url: 'http://10.2.2.2/v2', event_types: ['deployment.*', 'rollout.halted'], timeout_seconds: 20, enabled: false, has_secret: true, filters: { stack_id: stackId } });
    const rendered = await runCli(['webhooks', 'list'], env);
    expect(rendered.stdout).toMatch(/oncall\s+http:\/\/10\.2\.2\.2\/v2\s+deployment\.\*,rollout\.halted\s+json\s+yes\s+no\s+stack=[0-9a-f]{8}\s/);
    expect(rendered.stdout + r.stdout).not.toContain('rotated-secret-42');
    // --agent is added to the stack filter; then both go; renamed, enabled, unsigned.
    await runCli(['webhooks', 'update', id, '--agent', 'edge-1'], env);
    expect((await get()).filters).toEqual({ agent_id: agent.id, stack_id: stackId });
    const again = await runCli(['webhooks', 'update', 'oncall', '--clear-filters', '--name', 'pager', '--enable', '--remove-secret', '--json'], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ id, name: 'pager', enabled: true, has_secret: false, filters: {} });
    const audit = (await s.call('GET', '/api/v1/audit-logs?action=webhook.updated')).body;
    expect(audit.logs).toHaveLength(3);
  });

  it('refuses with a clear message: nothing to change, contradictory flags, unknown subscription, agent or stack, a URL the daemon refuses', async () => {
    const { env, get } = await world();
    const before = await get();
    const cases: [string[], number, RegExp][] = [
      [['webhooks', 'update', 'oncall'], 2, /^error: nothing to change: give --name, --hook-url, --event/],
      [['webhooks', 'update', 'oncall', '--enable', '--disable'], 2, /give --enable or --disable, not both/],
      [['webhooks', 'update', 'oncall', '--secret', 'x', '--remove-secret'], 2, /give a new secret or --remove-secret, not both/],
      [['webhooks', 'update', 'oncall', '--timeout', '0'], 2, /--timeout must be a whole number of seconds 1\.\.300, not 0/],
      [['webhooks', 'update', 'nope', '--disable'], 1, /no webhook subscription named nope/],
      [['webhooks', 'update', 'oncall', '--agent', 'ghost'], 1, /no agent named ghost/],
      [['webhooks', 'update', 'oncall', '--stack', 'ghost'], 1, /no stack named ghost/],
      [['webhooks', 'update', 'oncall', '--hook-url', 'http://127.0.0.1:9/x'], 1, /body\.url: .*127\.0\.0\.1 is a loopback address/],
      [['webhooks', 'update', 'oncall', '--event', 'deploymnet.failed'], 1, /unknown event type 'deploymnet.failed' \(did you mean 'deployment.failed'\?\)/],
    ];
    for (const [args, code, message] of cases) {
      const r = await runCli(args, env);
      expect([r.code, r.stderr], args.join(' ')).toEqual([code, expect.stringMatching(message)]);
      expect(r.stderr, args.join(' ')).not.toMatch(/\n\s+at /);
    }
    expect(await get()).toEqual(before);
  });
});
