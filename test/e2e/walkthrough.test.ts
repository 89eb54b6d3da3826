/**
 * The README walkthrough with real processes: `brokkr-sync serve` on a real git repository,
 * `agents create`, `brokkr-sync agent`, real commits — plus the failure modes a user will meet:
 * a failing --apply, a daemon killed and restarted, a file edited by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepoSync, makeTempDir, type TestRepo } from '../helpers/git-repo.js';
import { freePort, killAll, requireBuild, runCli, startCli, until, type CliProcess } from './cli-process.js';

const ADMIN_PAK = 'e2e-admin-pak-0123456789abcdef';

let repo: TestRepo;
let work: { path: string; cleanup(): void };
let url: string;
let port: number;
let daemon: CliProcess;
const admin = () => ({ BROKKR_URL: url, BROKKR_PAK: ADMIN_PAK });

function startDaemon(): CliProcess {
  const p = startCli(['serve', '--repo', repo.path, '--branch', 'main', '--db', join(work.path, 'brokkr.db'), '--port', String(port)], {
    env: { BROKKR_ADMIN_PAK: ADMIN_PAK },
  });
  return p;
}

async function createAgent(name: string, label: string): Promise<{ id: string; pak: string }> {
  const r = await runCli(['agents', 'create', name, '--cluster', 'local', '--label', label, '--json'], { env: admin() });
  expect(r.code, r.stderr).toBe(0);
  const created = JSON.parse(r.stdout) as { agent: { id: string }; initial_pak: string };
  return { id: created.agent.id, pak: created.initial_pak };
}

async function events(agent: string): Promise<{ event_type: string; status: string; message: string | null }[]> {
  const r = await runCli(['events', '--agent', agent, '--limit', '100', '--json'], { env: admin() });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

const file = (out: string, name: string) => join(out, name);
const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : null);

beforeAll(async () => {
  requireBuild();
  work = makeTempDir('brokkr-e2e-');
  repo = makeRepoSync('brokkr-e2e-repo-');
  repo.writeAll({
    'web/stack.yaml': 'name: web-app\nlabels: [prod]\n',
    'web/deployment.yaml': 'kind: Deployment\nreplicas: 3\n',
    'teams/payments/stack.yaml': 'labels: [prod]\n',
    'teams/payments/configmap.yaml': 'kind: ConfigMap\ndata: {currency: EUR}\n',
    'dev-only/stack.yaml': 'labels: [dev]\n',
    'dev-only/pod.yaml': 'kind: Pod\n',
  });
  repo.commit('initial stacks');
  port = await freePort();
  daemon = startDaemon();
  const m = await daemon.waitFor(/serving (http:\/\/\S+)/, 'the daemon to serve');
  url = m[1];
}, 60_000);

afterAll(async () => {
  killAll();
  repo?.cleanup();
  work?.cleanup();
});

describe('README walkthrough with real processes', () => {
  let out: string;
  let agent: CliProcess;
  let agentName: string;
  let agentPak: string;

  it('an agent with label prod receives exactly the prod stacks as files', async () => {
    agentName = 'walkthrough';
    const created = await createAgent(agentName, 'prod');
    agentPak = created.pak;
    out = join(work.path, 'deployed');
    // --url from the environment, as the README's `export BROKKR_URL=...` does.
    agent = startCli(['agent', '--pak', created.pak, '--out', out, '--heartbeat', '1', '--drift-interval', '0.2', '--interval', '5'], {
      env: { BROKKR_URL: url },
    });
    await until(() => read(file(out, 'web-app.yaml')) && read(file(out, 'teams__payments.yaml')), 'both prod stacks on disk');
    expect(read(file(out, 'web-app.yaml'))).toContain('replicas: 3');
    expect(existsSync(file(out, 'dev-only.yaml'))).toBe(false);
  }, 60_000);

  it('a commit changes the file, a removed stack removes it, and every event is SUCCESS', async () => {
    repo.write('web/deployment.yaml', 'kind: Deployment\nreplicas: 4\n').commit('web: 4 replicas');
    await until(() => read(file(out, 'web-app.yaml'))?.includes('replicas: 4'), 'web-app.yaml to change');
    repo.remove('teams/payments').commit('drop payments');
    await until(() => !existsSync(file(out, 'teams__payments.yaml')), 'teams__payments.yaml to disappear');
    const list = await until(async () => {
      const e = await events(agentName);
      return e.length >= 4 ? e : null;
    }, 'four events');
    expect(list.map((e) => `${e.event_type} ${e.status}`).sort()).toEqual(['DELETE SUCCESS', 'DEPLOY SUCCESS', 'DEPLOY SUCCESS', 'DEPLOY SUCCESS']);
    const status = await runCli(['status', '--json'], { env: admin() });
    const agents = JSON.parse(status.stdout).agents as { name: string; pending: number; failed: number }[];
    expect(agents.find((a) => a.name === agentName)).toMatchObject({ pending: 0, failed: 0 });
  }, 60_000);

  it('a hand-edited file is restored', async () => {
    writeFileSync(file(out, 'web-app.yaml'), 'replicas: 99 # edited by hand\n');
    await until(() => read(file(out, 'web-app.yaml'))?.includes('replicas: 4'), 'the edited file to be restored');
    await agent.waitFor(/restored web-app\.yaml: it was edited by hand/, 'the drift log line');
  }, 60_000);

  it('killing the daemon (SIGKILL) and restarting it loses nothing', async () => {
    expect(await daemon.stop('SIGKILL')).toBeNull();
    await agent.waitFor(/lost connection to/, 'the lost-connection line');
    repo.write('web/deployment.yaml', 'kind: Deployment\nreplicas: 5\n').commit('web: 5 replicas while the daemon is down');
    repo.writeAll({ 'api/stack.yaml': 'labels: [prod]\n', 'api/svc.yaml': 'kind: Service\n' }).commit('add api');
    daemon = startDaemon();
    await daemon.waitFor(/serving http/, 'the daemon to come back');
    await until(() => read(file(out, 'web-app.yaml'))?.includes('replicas: 5') && existsSync(file(out, 'api.yaml')), 'the changes made while down');
    await agent.waitFor(/connected again to/, 'the connected-again line');
    const log = agent.stderr();
    expect(log.match(/lost connection to/g)).toHaveLength(1);
    expect(log.match(/connected again to/g)).toHaveLength(1);
  }, 60_000);

  it('the agent exits 0 on SIGTERM and a restart applies nothing twice', async () => {
    await until(async () => (await events(agentName)).length >= 6, 'the events of the changes made while down');
    expect(await agent.stop('SIGTERM')).toBe(0);
    const before = await events(agentName);
    const again = await runCli(['agent', '--url', url, '--pak', agentPak, '--out', out, '--once']);
    expect(again.code, again.stderr).toBe(0);
    expect(await events(agentName)).toEqual(before);
  }, 60_000);

  it('a wrong PAK is a clear error and exit code 1', async () => {
    const r = await runCli(['agent', '--url', url, '--pak', 'brk_wrong', '--out', out, '--once']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: the daemon rejected the PAK \(401\)/);
    const adminPak = await runCli(['agent', '--url', url, '--pak', ADMIN_PAK, '--out', out, '--once']);
    expect(adminPak.code).toBe(1);
    expect(adminPak.stderr).toContain('this PAK belongs to the admin, not to an agent');
  }, 60_000);

  it('an --apply command that fails reports FAILURE with its stderr, then succeeds after the fix', async () => {
    const created = await createAgent('applier', 'prod');
    const flag = join(work.path, 'cluster-up');
    const sink = join(work.path, 'applied');
    const script = `if [ ! -f '${flag}' ]; then echo "error: cluster $BROKKR_STACK_NAME unreachable" >&2; exit 7; fi; cat >> '${sink}'`;
    const applier = startCli(['agent', '--url', url, '--pak', created.pak, '--out', join(work.path, 'applier-state'), '--apply', script]);
    const failure = await until(async () => (await events('applier')).find((e) => e.status === 'FAILURE'), 'a FAILURE event');
    expect(failure.message).toMatch(/exited with code 7: error: cluster \S+ unreachable/);
    writeFileSync(flag, '');
    // A new agent also receives teams/payments' deletion marker, which succeeds at once (no file
    // was written for it): count DEPLOY successes only, one per prod stack.
    await until(async () => {
      const e = await events('applier');
      return e.filter((x) => x.event_type === 'DEPLOY' && x.status === 'SUCCESS').length >= 2;
    }, 'DEPLOY SUCCESS for both prod stacks after the fix', 90_000);
    expect(read(sink)).toContain('kind: Deployment');
    expect(await applier.stop('SIGTERM')).toBe(0);
    rmSync(flag);
  }, 120_000);

  it('the daemon shuts down cleanly on SIGTERM', async () => {
    expect(await daemon.stop('SIGTERM')).toBe(0);
  }, 60_000);
});
