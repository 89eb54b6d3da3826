import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_PAK, agentRecord, stackRecord, startFakeDaemon, type FakeDaemon } from './admin-fake-daemon.js';
import { runCli } from './admin-run-cli.js';

let daemon: FakeDaemon;
const admin = (...args: string[]) => runCli([...args, '--url', daemon.url, '--pak', ADMIN_PAK]);
const writes = () => daemon.seen.filter((s) => s.method !== 'GET');

beforeEach(async () => {
  daemon = await startFakeDaemon();
});
afterEach(async () => {
  await daemon.close();
});

describe('agents create', () => {
  it('sends name, cluster, labels and annotations and prints the id, the PAK once and the run command', async () => {
    const r = await admin('agents', 'create', 'edge-1', '--cluster', 'prod-eu', '--label', 'prod', '--label', 'eu', '--annotation', 'region=eu-west-1', '--annotation', 'url=a=b');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(writes()).toEqual([
      expect.objectContaining({
        method: 'POST',
        path: '/agents',
        body: { name: 'edge-1', cluster_name: 'prod-eu', labels: ['prod', 'eu'], annotations: { region: 'eu-west-1', url: 'a=b' } },
        authorization: `Bearer ${ADMIN_PAK}`,
      }),
    ]);
    const id = String(daemon.state.agents[0].id);
    expect(r.stdout).toContain(id);
    expect(r.stdout).toMatch(/shown only this once/);
    expect(r.stdout.match(/pak-initial-0123456789/g)).toHaveLength(2);
    expect(r.stdout).toContain(`brokkr-sync agent --url ${daemon.url} --pak pak-initial-0123456789 --out ./deployed\n`);
  });

  it('with --json prints exactly the daemon answer', async () => {
    const r = await admin('agents', 'create', 'edge-1', '--cluster', 'c', '--json');
    expect(JSON.parse(r.stdout)).toEqual({ agent: daemon.state.agents[0], initial_pak: 'pak-initial-0123456789' });
  });

  it('refuses an annotation without = before calling the daemon (usage error, exit 2)', async () => {
    const r = await admin('agents', 'create', 'edge-1', '--cluster', 'c', '--annotation', 'region');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: --annotation "region" must be key=value\n');
    expect(daemon.seen).toHaveLength(0);
  });

  it('requires --cluster', async () => {
    const r = await admin('agents', 'create', 'edge-1');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Missing required argument: cluster/);
  });
});

describe('agents list and show', () => {
  it('lists agents as an aligned table with heartbeat ages', async () => {
    daemon.state.agents.push(
      agentRecord('edge-1', 'prod-eu', { status: 'ACTIVE', last_heartbeat: new Date(Date.now() - 125_000).toISOString() }),
      agentRecord('a-much-longer-agent-name', 'dev'),
    );
    const r = await admin('agents', 'list');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const col = lines[0].indexOf('CLUSTER');
    expect(lines[1].indexOf('prod-eu')).toBe(col);
    expect(lines[2].indexOf('dev')).toBe(col);
    expect(lines[1]).toMatch(/ACTIVE\s+2m ago$/);
    expect(lines[2]).toMatch(/INACTIVE\s+never$/);
  });

  it('says how to create one when there are no agents, and prints [] with --json', async () => {
    expect((await admin('agents', 'list')).stdout).toMatch(/No agents yet: brokkr-sync agents create/);
    expect(JSON.parse((await admin('agents', 'list', '--json')).stdout)).toEqual([]);
  });

  it('shows an agent found by name with labels, annotations, targets by stack name and associated stacks', async () => {
    await admin('agents', 'create', 'edge-1', '--cluster', 'c', '--label', 'prod', '--annotation', 'tier=web');
    const stack = stackRecord('payments-api');
    daemon.state.stacks.push(stack);
    await admin('agents', 'target', 'edge-1', 'payments-api');
    const r = await admin('agents', 'show', 'edge-1');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Labels\s+prod$/m);
    expect(r.stdout).toMatch(/^Annotations\s+tier=web$/m);
    expect(r.stdout).toMatch(/^Targets\s+payments-api$/m);
    expect(r.stdout).toMatch(/Associated stacks\nID\s+NAME\s+STATE\s+HEALTH\n\S+\s+payments-api\s+live\s+-\n/);
    expect(daemon.seen.filter((s) => s.method === 'GET' && s.path === '/agents').map((s) => s.query)).toContainEqual({ name: 'edge-1' });
  });

  it('shows the Kubernetes API report brokkr agents send with heartbeats, or that there is none', async () => {
    daemon.state.agents.push(agentRecord('quiet', 'c', { k8s_reachable: null, k8s_api_latency_ms: null, k8s_reported_at: null }));
    daemon.state.agents.push(agentRecord('up', 'c', { k8s_reachable: true, k8s_api_latency_ms: 12, k8s_reported_at: new Date().toISOString() }));
    daemon.state.agents.push(agentRecord('down', 'c', { k8s_reachable: false, k8s_api_latency_ms: null, k8s_reported_at: new Date().toISOString() }));
    expect((await admin('agents', 'show', 'quiet')).stdout).toMatch(/^Kubernetes API\s+not reported$/m);
    expect((await admin('agents', 'show', 'up')).stdout).toMatch(/^Kubernetes API\s+reachable, 12 ms \(reported .*\)$/m);
    expect((await admin('agents', 'show', 'down')).stdout).toMatch(/^Kubernetes API\s+UNREACHABLE \(reported .*\)$/m);
  });
});

describe('changing an agent', () => {
  let id: string;
  beforeEach(async () => {
    await admin('agents', 'create', 'edge-1', '--cluster', 'c');
    id = String(daemon.state.agents[0].id);
    daemon.seen.length = 0;
  });

  it('adds and removes a label, by name or by id', async () => {
    expect((await admin('agents', 'label', 'edge-1', 'prod')).stdout).toBe(`Added label prod to agent edge-1 (${id})\n`);
    expect((await admin('agents', 'label', id, 'prod', '--remove')).stdout).toBe(`Removed label prod from agent edge-1 (${id})\n`);
    expect(writes().map((s) => `${s.method} ${s.path} ${JSON.stringify(s.body ?? null)}`)).toEqual([
      `POST /agents/${id}/labels {"label":"prod"}`,
      `DELETE /agents/${id}/labels/prod null`,
    ]);
  });

  it('sets and removes an annotation', async () => {
    expect((await admin('agents', 'annotate', 'edge-1', 'tier=web')).code).toBe(0);
    expect((await admin('agents', 'annotate', 'edge-1', 'tier', '--remove')).code).toBe(0);
    expect(writes().map((s) => `${s.method} ${s.path} ${JSON.stringify(s.body ?? null)}`)).toEqual([
      `POST /agents/${id}/annotations {"key":"tier","value":"web"}`,
      `DELETE /agents/${id}/annotations/tier null`,
    ]);
  });

  it('targets a stack given by name and removes the target', async () => {
    const stack = stackRecord('teams/payments');
    daemon.state.stacks.push(stack);
    expect((await admin('agents', 'target', 'edge-1', 'teams/payments')).stdout).toBe(`Agent edge-1 (${id}) now targets stack teams/payments\n`);
    expect((await admin('agents', 'target', 'edge-1', String(stack.id), '--remove')).code).toBe(0);
    expect(writes().map((s) => `${s.method} ${s.path} ${JSON.stringify(s.body ?? null)}`)).toEqual([
      `POST /agents/${id}/targets {"stack_id":"${String(stack.id)}"}`,
      `DELETE /agents/${id}/targets/${String(stack.id)} null`,
    ]);
  });

  it('rotates the PAK and prints the new one once', async () => {
    const r = await admin('agents', 'rotate-pak', 'edge-1');
    expect(r.stdout).toBe(`New PAK for agent edge-1 (${id}), shown only this once (the old one no longer works):\n  pak-rotated-9876543210\n`);
    expect(writes().map((s) => `${s.method} ${s.path}`)).toEqual([`POST /agents/${id}/rotate-pak`]);
  });

  it('deletes an agent, after which its name is unknown', async () => {
    expect((await admin('agents', 'delete', 'edge-1')).stdout).toBe(`Deleted agent edge-1 (${id})\n`);
    const r = await admin('agents', 'show', 'edge-1');
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'error: no agent named edge-1 (brokkr-sync agents list shows them)\n' });
  });

  it('refuses a name two agents share and names their clusters', async () => {
    daemon.state.agents.push(agentRecord('edge-1', 'other-cluster'));
    const r = await admin('agents', 'label', 'edge-1', 'prod');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: agent name edge-1 is ambiguous \(.* in c, .* in other-cluster\): give the id instead\n$/);
    expect(writes()).toHaveLength(0);
  });

  it('reports an unknown stack name without changing anything', async () => {
    const r = await admin('agents', 'target', 'edge-1', 'nope');
    expect(r).toMatchObject({ code: 1, stderr: 'error: no stack named nope (brokkr-sync stacks list shows them)\n' });
    expect(writes()).toHaveLength(0);
  });
});
