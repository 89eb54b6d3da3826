/**
 * Progressive delivery with real processes (SPEC §10, README "Progressive delivery"): `brokkr-sync
 * serve` on a git repository whose `web/stack.yaml` is the README's canary example (read from the
 * README, so the README stays true), and three long-running reference agents — canary-1 (wave 1),
 * eu-1 (wave 2), other-1 (the implicit last wave) — whose `--apply` script logs what it got and
 * when, and holds or fails on command (a file in a control directory).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, runCli, until } from './cli-process.js';
import { startE2eWorld, type E2eWorld } from './e2e-world.js';

const ADMIN_PAK = 'e2e-rollout-admin-pak-0123456789abcdef';
/** The longest long poll an agent may ask for (--interval), s. */
const POLL_WAIT_S = 60;

let w: E2eWorld;
const admin = () => w.admin();
const ctrl = (name: string) => w.ctrl(name);

/* Logs "stack sequence epoch-ms" when it gets an object, then holds while ctrl/hold-AGENT exists and fails while ctrl/fail-AGENT exists. */
const APPLY =
  'cat > /dev/null; echo "$BROKKR_STACK_NAME $BROKKR_SEQUENCE_ID $(date +%s%3N)" >> "$CTRL/got-$AGENT_NAME"; ' +
  'while [ -e "$CTRL/hold-$AGENT_NAME" ]; do sleep 0.02; done; ' +
  'if [ -e "$CTRL/fail-$AGENT_NAME" ]; then echo "apply refused on $AGENT_NAME" >&2; exit 1; fi; echo applied';

/** What the agent got: [stack, sequence, epoch ms] in order. */
function got(agent: string): { stack: string; seq: number; at: number }[] {
  if (!existsSync(ctrl(`got-${agent}`))) return [];
  return readFileSync(ctrl(`got-${agent}`), 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [stack, seq, at] = l.split(' ');
      return { stack: stack!, seq: Number(seq), at: Number(at) };
    });
}
const gotWeb = (agent: string, seq: number) => got(agent).find((g) => g.stack === 'web-app' && g.seq === seq);

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${w.url}/api/v1${path}`, { headers: { authorization: `Bearer ${ADMIN_PAK}` } });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface Rollout {
  stack_id: string;
  halted: boolean;
  halt_reason: string | null;
  paused: boolean;
  target: { sequence_id: number } | null;
  waves: { index: number; released: { sequence_id: number } | null; agents: { id: string; name: string; gate: string }[] }[];
}
const rollout = async (): Promise<Rollout> => JSON.parse((await runCli(['rollout', 'status', 'web-app', '--json'], { env: admin() })).stdout) as Rollout;
/**
 * The same answer from the API (`rollout status --json` prints GET /stacks/{id}/rollout as it is):
 * what the waits below poll, every 25 ms, where a CLI process per poll cost ~1 s each on a loaded
 * machine; what a test asserts on is then read once more through the CLI.
 */
const rolloutApi = async (): Promise<Rollout> => {
  const stack = (await api<{ id: string; name: string }[]>('/stacks')).find((s) => s.name === 'web-app')!;
  return api<Rollout>(`/stacks/${stack.id}/rollout`);
};
const releasedSeqs = (r: Rollout) => r.waves.map((w) => w.released?.sequence_id ?? null);

interface CommitAnswer {
  state: string;
  stacks: { stack_name: string; sequence_id: number; halt_reason: string | null; agents: { agent_name: string; released: boolean; state: string }[] }[];
}
const released = (c: CommitAnswer) => Object.fromEntries(c.stacks.find((s) => s.stack_name === 'web-app')!.agents.map((a) => [a.agent_name, a.released]));

async function createAgent(name: string, tags: string[]): Promise<void> {
  await w.createAgent(name, tags);
  await startAgent(name);
}

/** Start (or restart: same --out, so what it applied is kept) the agent process; `interval` is its long poll's wait, s. */
async function startAgent(name: string, interval = 30): Promise<void> {
  await w.startAgent(name, ['--apply', APPLY, '--interval', String(interval)]);
}

function commitWeb(n: number): string {
  w.repo.write('web/cm.yaml', `kind: ConfigMap\ndata: {version: "v${n}"}\n`);
  return w.repo.commit(`web: v${n}`);
}

/** The sequence id of the web-app object of a commit, once synced. */
async function seqOf(sha: string): Promise<number> {
  const c = await until(async () => (await api<CommitAnswer>(`/commits/${sha}`).catch(() => null)) ?? null, `commit ${sha} to sync`);
  return c.stacks.find((s) => s.stack_name === 'web-app')!.sequence_id;
}

beforeAll(async () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const canary = readme.match(/```yaml\n(# web\/stack\.yaml — a canary rollout\n[\s\S]*?)```/);
  if (!canary) throw new Error('README: the canary example (# web/stack.yaml — a canary rollout) is gone');
  w = await startE2eWorld({
    prefix: 'rollout',
    adminPak: ADMIN_PAK,
    files: {
      'web/stack.yaml': canary[1]!,
      'web/cm.yaml': 'kind: ConfigMap\ndata: {version: "v1"}\n',
      'postgres/stack.yaml': 'labels: [prod]\n',
      'postgres/cm.yaml': 'kind: ConfigMap\n',
    },
  });
  await createAgent('canary-1', ['--label', 'prod', '--label', 'canary', '--annotation', 'region=eu']);
  await createAgent('eu-1', ['--label', 'prod', '--label', 'eu']);
  await createAgent('other-1', ['--label', 'prod']);
}, 60_000);

afterAll(async () => {
  await w?.close();
  killAll();
});

describe('progressive delivery with real processes (the README canary example)', () => {
  let v1 = 0;
  let v2 = 0;

  it('the first object rolls out wave by wave; on each agent postgres (dependsOn) is applied before web-app', async () => {
    v1 = await seqOf(w.repo.head());
    await until(() => gotWeb('other-1', v1), 'the last wave to get web-app v1');
    for (const name of ['canary-1', 'eu-1', 'other-1']) {
      const order = got(name).map((g) => g.stack);
      expect(order.indexOf('postgres'), `${name}: ${order.join(', ')}`).toBeGreaterThanOrEqual(0);
      expect(order.indexOf('postgres'), `${name}: ${order.join(', ')}`).toBeLessThan(order.indexOf('web-app'));
    }
    expect(gotWeb('canary-1', v1)!.at).toBeLessThanOrEqual(gotWeb('eu-1', v1)!.at);
    expect(gotWeb('eu-1', v1)!.at).toBeLessThanOrEqual(gotWeb('other-1', v1)!.at);
    await until(async () => (await rolloutApi()).waves.every((w) => w.agents.every((a) => a.gate === 'passed')), 'every gate to pass on v1');
    const r = await rollout();
    expect(r.waves.flatMap((w) => w.agents.map((a) => a.gate))).toEqual(['passed', 'passed', 'passed']);
    expect(r.waves.map((w) => w.agents.map((a) => a.name))).toEqual([['canary-1'], ['eu-1'], ['other-1']]);
    expect(releasedSeqs(r)).toEqual([v1, v1, v1]);
    // The agent's stacks carry dependsOn: what orders a target state holding several stacks.
    const stacks = await api<{ name: string; depends_on: string[] }[]>(`/agents/${r.waves[0]!.agents[0]!.id}/stacks`);
    expect(Object.fromEntries(stacks.map((s) => [s.name, s.depends_on]))).toEqual({ 'web-app': ['postgres'], postgres: [] });
  });

  it('wave 2 gets v2 only after wave 1’s SUCCESS, its parked long poll woken by it; GET /commits says who is released', async () => {
    writeFileSync(ctrl('hold-canary-1'), '');
    const sha = commitWeb(2);
    v2 = await seqOf(sha);
    await until(() => gotWeb('canary-1', v2), 'the canary to get v2');
    await new Promise((r) => setTimeout(r, 400));
    expect(gotWeb('eu-1', v2)).toBeUndefined();
    expect(releasedSeqs(await rollout())).toEqual([v2, v1, v1]);
    const pending = await api<CommitAnswer>(`/commits/${sha}`);
    expect(released(pending)).toEqual({ 'canary-1': true, 'eu-1': false, 'other-1': false });
    expect(pending.state).toBe('pending');

    // The wave-2 agent parks its long poll at a known moment (restarted, so no poll of it is older
    // than `restartedAt`) for the longest wait (60 s): an answer before restartedAt + 60 s was a
    // wake, not its deadline. (How soon after the SUCCESS: bench/rollout-waves.mjs, scenario 11.)
    await w.agents.get('eu-1')!.stop();
    const restartedAt = Date.now();
    await startAgent('eu-1', POLL_WAIT_S);
    expect(gotWeb('eu-1', v2)).toBeUndefined(); // still held back after the restart

    rmSync(ctrl('hold-canary-1'));
    const wave2 = await until(() => gotWeb('eu-1', v2), 'wave 2 to get v2', 45_000);
    const events = JSON.parse((await runCli(['events', '--agent', 'canary-1', '--json'], { env: admin() })).stdout) as { status: string; created_at: string; deployment_object_id: string }[];
    const objectId = (await api<CommitAnswer & { stacks: { object_id: string }[] }>(`/commits/${sha}`)).stacks[0]!.object_id;
    const success = events.find((e) => e.deployment_object_id === objectId && e.status === 'SUCCESS')!;
    const lag = wave2.at - Date.parse(success.created_at);
    expect(lag, `wave 2 got v2 ${lag} ms after the canary's SUCCESS`).toBeGreaterThanOrEqual(-50); // clocks: the same machine
    // Woken by the release, not answered at its own deadline.
    expect(wave2.at).toBeLessThan(restartedAt + POLL_WAIT_S * 1000);
    console.log(`progressive delivery: canary SUCCESS -> wave 2 got v2: ${lag} ms`);
    const wave3 = await until(() => gotWeb('other-1', v2), 'the last wave to get v2');
    expect(wave3.at).toBeGreaterThanOrEqual(wave2.at);
    const done = await runCli(['wait', sha, '--timeout', '20s'], { env: admin() });
    expect(done.code, done.stderr + done.stdout).toBe(0);
  }, 90_000);

  let v3 = 0;
  let sha3 = '';
  it('a FAILURE in wave 1 halts; wait exits 1 naming the halt; the halt holds across a daemon restart', async () => {
    writeFileSync(ctrl('fail-canary-1'), '');
    sha3 = commitWeb(3);
    v3 = await seqOf(sha3);
    await until(async () => (await rolloutApi()).halted, 'the rollout to halt');
    const halted = await rollout();
    expect(halted.halt_reason).toMatch(/^wave 1: agent canary-1 reported FAILURE/);
    expect(releasedSeqs(halted)).toEqual([v3, v2, v2]);
    const failing = await runCli(['wait', sha3, '--timeout', '20s'], { env: admin() });
    expect(failing.code, failing.stderr + failing.stdout).toBe(1);
    expect(failing.stdout).toContain('FAILED  agent canary-1 (cluster local), stack web-app');
    expect(failing.stdout).toMatch(/HALTED {2}stack web-app: rollout halted, wave 1: agent canary-1 reported FAILURE/);
    expect((await runCli(['rollout', 'status', 'web-app'], { env: admin() })).code).toBe(1);

    // The canary's retry succeeds: the halt is sticky (an admin or a newer commit lifts it), and wait still says so.
    rmSync(ctrl('fail-canary-1'));
    await until(async () => (await rolloutApi()).waves[0]!.agents[0]!.gate === 'passed', 'the canary’s retry to succeed', 30_000);
    expect((await rollout()).waves[0]!.agents[0]!.gate).toBe('passed');
    const still = await runCli(['wait', sha3, '--timeout', '20s'], { env: admin() });
    expect(still.code, still.stderr + still.stdout).toBe(1);
    expect(still.stdout).toContain('HALTED  stack web-app');
    expect(still.stdout).not.toContain('FAILED  agent');

    expect(await w.daemon.stop('SIGTERM')).toBe(0);
    await w.restartDaemon();
    for (const name of ['eu-1', 'other-1']) await w.agents.get(name)!.waitFor(/connected again to/, `${name} to come back`, 15_000);
    const after = await rollout();
    expect(after.halted).toBe(true);
    expect(releasedSeqs(after)).toEqual([v3, v2, v2]);
    await new Promise((r) => setTimeout(r, 500));
    expect(gotWeb('eu-1', v3)).toBeUndefined();
    expect(gotWeb('other-1', v3)).toBeUndefined();
    expect(released(await api<CommitAnswer>(`/commits/${sha3}`))).toEqual({ 'canary-1': true, 'eu-1': false, 'other-1': false });
  }, 60_000);

  it('rollout promote releases the halted rollout: wave 2, then the last wave by itself; wait exits 0', async () => {
    const r = await runCli(['rollout', 'promote', 'web-app'], { env: admin() });
    expect(r.code, r.stderr).toBe(0);
    await until(() => gotWeb('eu-1', v3), 'wave 2 to get v3 after promote', 30_000);
    await until(() => gotWeb('other-1', v3), 'the last wave to get v3', 30_000);
    const done = await runCli(['wait', sha3, '--timeout', '20s'], { env: admin() });
    expect(done.code, done.stderr + done.stdout).toBe(0);
    expect((await rollout()).halted).toBe(false);
  }, 60_000);

  it('rollback --to SEQ reaches every wave at once and pauses; a later commit waits for rollout resume', async () => {
    const rb = await runCli(['rollback', 'web-app', '--to', String(v2)], { env: admin() });
    expect(rb.code, rb.stderr + rb.stdout).toBe(0);
    const paused = await rollout();
    expect(paused.paused).toBe(true);
    const back = paused.target!.sequence_id;
    expect(releasedSeqs(paused)).toEqual([back, back, back]);
    for (const name of ['canary-1', 'eu-1', 'other-1']) await until(() => gotWeb(name, back), `${name} to get the rollback`);

    const sha4 = commitWeb(4);
    const v4 = await seqOf(sha4);
    await new Promise((r) => setTimeout(r, 500));
    for (const name of ['canary-1', 'eu-1', 'other-1']) expect(gotWeb(name, v4), name).toBeUndefined();
    expect(released(await api<CommitAnswer>(`/commits/${sha4}`))).toEqual({ 'canary-1': false, 'eu-1': false, 'other-1': false });

    const resume = await runCli(['rollout', 'resume', 'web-app'], { env: admin() });
    expect(resume.code, resume.stderr).toBe(0);
    const done = await runCli(['wait', sha4, '--timeout', '30s'], { env: admin() });
    expect(done.code, done.stderr + done.stdout).toBe(0);
    expect(gotWeb('canary-1', v4)!.at).toBeLessThanOrEqual(gotWeb('eu-1', v4)!.at);
    expect(gotWeb('eu-1', v4)!.at).toBeLessThanOrEqual(gotWeb('other-1', v4)!.at);
  }, 60_000);
});
