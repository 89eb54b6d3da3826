/**
 * Health and `wait` with real processes: `brokkr-sync serve` on a git repository, two reference
 * agents whose `--apply` and `--health` scripts succeed, fail or turn unhealthy on command (a file
 * in a control directory), and `brokkr-sync wait` exiting 0, 1 and 2 — plus the README's CI
 * snippets run as scripts.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load as parse } from 'js-yaml';
import { killAll, MAIN, runCli, until } from './cli-process.js';
import { startE2eWorld, type E2eWorld } from './e2e-world.js';

const ADMIN_PAK = 'e2e-health-admin-pak-0123456789abcdef';

let w: E2eWorld;
const admin = () => w.admin();
const ctrl = (name: string) => w.ctrl(name);

/* The apply script fails while ctrl/fail-apply-AGENT exists; the health script exits with the code in ctrl/health-AGENT (and prints the rest of its line). */
const APPLY = 'cat > /dev/null; if [ -e "$CTRL/fail-apply-$AGENT_NAME" ]; then echo "apply refused on $AGENT_NAME" >&2; exit 1; fi; echo applied';
const HEALTH =
  'cat > /dev/null; code=0; msg="all pods ready ($BROKKR_STACK_NAME seq $BROKKR_SEQUENCE_ID)"; ' +
  'if [ -f "$CTRL/health-$AGENT_NAME" ]; then code=$(cut -d" " -f1 "$CTRL/health-$AGENT_NAME"); msg=$(cut -d" " -f2- "$CTRL/health-$AGENT_NAME"); fi; echo "$msg"; exit "$code"';

async function startAgent(name: string): Promise<void> {
  await w.createAgent(name, ['--label', 'prod']);
  await w.startAgent(name, ['--apply', APPLY, '--delete', 'cat > /dev/null', '--health', HEALTH, '--health-interval', '1']);
}

const wait = (args: string[], cwd?: string) => runCli(['wait', ...args], { env: admin(), cwd });

function change(stack: string, n: number): string {
  w.repo.write(`${stack}/cm.yaml`, `kind: ConfigMap\ndata: {n: "${n}"}\n`);
  return w.repo.commit(`${stack}: ${n}`);
}

beforeAll(async () => {
  w = await startE2eWorld({
    prefix: 'health',
    adminPak: ADMIN_PAK,
    files: {
      'web/stack.yaml': 'labels: [prod]\n',
      'web/cm.yaml': 'kind: ConfigMap\n',
      'db/stack.yaml': 'labels: [prod]\n',
      'db/cm.yaml': 'kind: ConfigMap\n',
    },
  });
  await Promise.all([startAgent('edge-1'), startAgent('edge-2')]);
}, 60_000);

afterAll(async () => {
  await w?.close();
  killAll();
});

describe('health and wait with real processes', () => {
  it('wait (HEAD of the checkout) --healthy exits 0 once both agents applied and report healthy; stacks show and agents show the health', async () => {
    const r = await wait(['--healthy', '--timeout', '30s'], w.repo.path);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{7} applied and healthy: 2 stacks on 2 agents$/m);
    const stack = await runCli(['stacks', 'show', 'web'], { env: admin() });
    expect(stack.stdout).toContain('Health (healthy)');
    expect(stack.stdout).toMatch(/edge-1\s+healthy\s+\d+\s+all pods ready \(web seq \d+\)/);
    const agent = await runCli(['agents', 'show', 'edge-2'], { env: admin() });
    expect(agent.stdout).toMatch(/db\s+live\s+healthy — all pods ready \(db seq \d+\)/);
  });

  it('an agent whose health turns failing: wait --healthy exits 1 naming it; without --healthy the commit is applied (0)', async () => {
    writeFileSync(ctrl('health-edge-2'), '2 readiness probe failing on 2/3 pods\n');
    const sha = change('web', 1);
    const r = await wait([sha, '--healthy', '--timeout', '30s']);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(r.stdout).toContain('FAILED  agent edge-2 (cluster local), stack web: health failing: readiness probe failing on 2/3 pods');
    expect(r.stderr).toContain(`error: ${sha.slice(0, 7)} failed: agent edge-2 (cluster local), stack web`);
    const plain = await wait([sha.slice(0, 10), '--timeout', '30s', '--json']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout)).toMatchObject({ sha, state: 'applied', counts: { applied: 2, failed: 0, pending: 0 } });
    const health = await runCli(['stacks', 'show', 'web'], { env: admin() });
    expect(health.stdout).toMatch(/Health \(failing\)[\s\S]*edge-2\s+failing\s+\d+\s+readiness probe failing on 2\/3 pods/);
    rmSync(ctrl('health-edge-2'));
  });

  it('a failing --apply: wait exits 1 with the agent, the stack and the command’s message', async () => {
    writeFileSync(ctrl('fail-apply-edge-1'), '');
    const sha = change('db', 2);
    const r = await wait([sha, '--timeout', '30s']);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(r.stdout).toMatch(/FAILED {2}agent edge-1 \(cluster local\), stack db: .*apply refused on edge-1/);
    rmSync(ctrl('fail-apply-edge-1'));
    // The agent retries with backoff (wait answers 1 until the retry's SUCCESS replaces the FAILURE); then the same commit is applied.
    await until(async () => (await wait([sha, '--timeout', '5s'])).code === 0, 'the retried apply to make the commit applied', 30_000);
  });

  it('an agent that is down: wait exits 2 after the timeout naming who is awaited; an unknown sha times out saying why', async () => {
    await w.agents.get('edge-2')!.stop();
    const sha = change('web', 3);
    // Both waits run out their timeouts side by side (two processes; neither changes anything).
    const [r, unknown] = await Promise.all([wait([sha, '--timeout', '2s']), wait(['0123456789abcdef0123456789abcdef01234567', '--timeout', '1s'])]);
    expect(r.code, r.stderr + r.stdout).toBe(2);
    expect(r.stdout).toContain('WAITING agent edge-2 (cluster local), stack web: not applied yet');
    expect(r.stderr).toContain('timed out after 2s');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('not synced yet');
    await startAgentAgain('edge-2');
    expect((await wait([sha, '--timeout', '30s'])).code).toBe(0);
  });

  it('the README’s CI snippets run as scripts: GitHub Actions and GitLab CI', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const blocks = [...readme.matchAll(/<!-- ci-example: (\w+)[^>]*-->\n```yaml\n([\s\S]*?)```/g)];
    expect(blocks.map((b) => b[1])).toEqual(['github', 'gitlab']);
    const github = (parse(blocks[0]![2]!) as { run: string }[])[0]!.run;
    const gitlab = (parse(blocks[1]![2]!) as Record<string, { script: string[] }>)['wait-for-rollout']!.script.join('\n');
    // `npm install --global brokkr-sync` is the CI image's business: here `npm` is a no-op and `brokkr-sync` the build.
    const bin = join(w.work.path, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'npm'), '#!/bin/sh\nexit 0\n');
    writeFileSync(join(bin, 'brokkr-sync'), `#!/bin/sh\nexec "${process.execPath}" "${MAIN}" "$@"\n`);
    chmodSync(join(bin, 'npm'), 0o755);
    chmodSync(join(bin, 'brokkr-sync'), 0o755);
    const sha = change('db', 4);
    for (const script of [github, gitlab]) {
      const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], {
        env: { PATH: `${bin}:${process.env.PATH}`, ...admin(), GITHUB_SHA: sha, CI_COMMIT_SHA: sha },
      });
      expect(stdout).toContain(`${sha.slice(0, 7)} applied and healthy`);
    }
  });
});

async function startAgentAgain(name: string): Promise<void> {
  const state = JSON.parse(readFileSync(join(w.work.path, name, '.brokkr-agent-state.json'), 'utf8')) as { agent_id: string };
  const rotated = await runCli(['agents', 'rotate-pak', state.agent_id, '--json'], { env: admin() });
  w.paks.set(name, (JSON.parse(rotated.stdout) as { pak: string }).pak);
  await w.startAgent(name, ['--apply', APPLY, '--health', HEALTH, '--health-interval', '1']);
}
