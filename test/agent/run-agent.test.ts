import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../helpers/git-repo.js';
import { startHarness, type Harness } from './daemon-harness.js';
import { runAgent, type AgentOptions } from '../../src/agent/run-agent.js';
import { createMemoryLogger } from '../../src/agent/logger.js';
import { STATE_FILE } from '../../src/agent/state-file.js';

let h: Harness;
let out: string;
let cleanups: (() => void | Promise<void>)[] = [];

beforeEach(async () => {
  h = await startHarness();
  const d = makeTempDir('brokkr-agent-out-');
  out = d.path;
  cleanups = [() => d.cleanup()];
});
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  await h.close();
});

/** Poll until `check` returns a truthy value (bounded; no timing assertions). */
async function until<T>(check: () => T | Promise<T>, what: string, deadlineMs = 15_000): Promise<NonNullable<T>> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const fast = { reconnect: { baseMs: 20, capMs: 200 }, retry: { baseMs: 50, capMs: 300 } };

function agentOpts(pak: string, over: Partial<AgentOptions> = {}): AgentOptions & { logger: ReturnType<typeof createMemoryLogger> } {
  return { url: h.url, pak, outDir: out, logger: createMemoryLogger(), ...fast, ...over } as never;
}

/** Start a long-running agent; returns a stop function resolving to its exit. */
function background(opts: AgentOptions) {
  const ac = new AbortController();
  const done = runAgent({ ...opts, signal: ac.signal });
  cleanups.push(async () => {
    ac.abort();
    await done;
  });
  return { stop: async () => (ac.abort(), done), done };
}

const read = (f: string) => readFileSync(join(out, f), 'utf8');
const yamlFiles = () => readdirSync(out).filter((f) => f.endsWith('.yaml')).sort();

describe('agent against a real in-process daemon', () => {
  it('--once writes every associated stack to OUT and reports DEPLOY SUCCESS', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    await h.commit({ web: { content: 'kind: Web\n' }, 'teams/payments': { content: 'kind: Pay\n' }, other: { content: 'kind: X\n', labels: ['dev'] } });
    const exit = await runAgent(agentOpts(agent.pak, { once: true }));
    expect(exit).toEqual({ code: 0 });
    expect(yamlFiles()).toEqual(['teams__payments.yaml', 'web.yaml']);
    expect(read('web.yaml')).toBe('kind: Web\n');
    const events = await h.events(agent.id);
    expect(events.map((e) => `${e.event_type} ${e.status}`)).toEqual(['DEPLOY SUCCESS', 'DEPLOY SUCCESS']);
    expect(events.every((e) => e.message?.startsWith('wrote '))).toBe(true);
  });

  it('a restart does not apply again what was already applied', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    await h.commit({ web: { content: 'kind: Web\n' } });
    const log = join(out, '..', `${out.split('/').pop()}-apply.log`);
    cleanups.push(() => rmSync(log, { force: true }));
    const apply = `echo "$BROKKR_STACK_NAME $BROKKR_SEQUENCE_ID" >> ${log}`;
    expect(await runAgent(agentOpts(agent.pak, { once: true, applyCommand: apply }))).toEqual({ code: 0 });
    expect(await runAgent(agentOpts(agent.pak, { once: true, applyCommand: apply }))).toEqual({ code: 0 });
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(1);
    await h.commit({ web: { content: 'kind: Web2\n' } });
    expect(await runAgent(agentOpts(agent.pak, { once: true, applyCommand: apply }))).toEqual({ code: 0 });
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('switching from --apply to files on a restart writes the files (the state remembers how each stack was applied)', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    await h.commit({ web: { content: 'kind: Web\n' } });
    expect(await runAgent(agentOpts(agent.pak, { once: true, applyCommand: 'cat > /dev/null' }))).toEqual({ code: 0 });
    expect(yamlFiles()).toEqual([]);
    expect(await runAgent(agentOpts(agent.pak, { once: true }))).toEqual({ code: 0 });
    expect(read('web.yaml')).toBe('kind: Web\n');
  });

  it('a wiped OUT directory is rebuilt on the next start (first pass is full)', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    await h.commit({ web: { content: 'kind: Web\n' } });
    await runAgent(agentOpts(agent.pak, { once: true }));
    for (const f of readdirSync(out)) rmSync(join(out, f), { recursive: true });
    expect(await runAgent(agentOpts(agent.pak, { once: true }))).toEqual({ code: 0 });
    expect(read('web.yaml')).toBe('kind: Web\n');
  });

  it('follows commits while running: files appear, change and disappear, each with an event', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    const opts = agentOpts(agent.pak, { waitSeconds: 30 });
    const run = background(opts);
    const ids = await h.commit({ web: { content: 'v: 1\n' } });
    await until(() => existsSync(join(out, 'web.yaml')), 'web.yaml to appear');
    await h.commit({ web: { content: 'v: 2\n' } });
    await until(() => read('web.yaml') === 'v: 2\n', 'web.yaml to change');
    await h.commit({}, ['web']);
    await until(() => !existsSync(join(out, 'web.yaml')), 'web.yaml to disappear');
    const events = await until(async () => {
      const e = await h.events(agent.id);
      return e.length === 3 ? e : null;
    }, 'three events');
    expect(events.map((e) => `${e.event_type} ${e.status}`).sort()).toEqual(['DELETE SUCCESS', 'DEPLOY SUCCESS', 'DEPLOY SUCCESS']);
    expect(await run.stop()).toEqual({ code: 0 });
    expect(JSON.parse(readFileSync(join(out, STATE_FILE), 'utf8')).stacks[ids.web]).toBeUndefined();
    expect(opts.logger.lines.at(-1)).toContain('stopped');
  });

  it('a failing --apply reports FAILURE with the stderr tail, retries with backoff, and succeeds after the fix', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    const flag = join(out, 'fixed');
    const sink = join(out, 'applied');
    const apply = `if [ ! -f ${flag} ]; then echo "error: cluster unreachable" >&2; exit 4; fi; cat > ${sink}`;
    const opts = agentOpts(agent.pak, { applyCommand: apply });
    background(opts);
    await h.commit({ web: { content: 'kind: Web\n' } });
    const failure = await until(async () => (await h.events(agent.id)).find((e) => e.status === 'FAILURE'), 'a FAILURE event');
    expect(failure.event_type).toBe('DEPLOY');
    expect(failure.message).toMatch(/exited with code 4: error: cluster unreachable/);
    writeFileSync(flag, '');
    await until(async () => (await h.events(agent.id)).some((e) => e.status === 'SUCCESS'), 'a SUCCESS event after the fix');
    expect(readFileSync(sink, 'utf8')).toBe('kind: Web\n');
    const failedLines = opts.logger.lines.filter((l) => l.includes('failed (attempt'));
    expect(failedLines).toHaveLength(1);
    expect(opts.logger.lines.some((l) => /after \d+ failed attempt/.test(l))).toBe(true);
  });

  it('survives the daemon going away: one line when lost, one when back, nothing lost', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    await h.commit({ web: { content: 'v: 1\n' } });
    const opts = agentOpts(agent.pak, { waitSeconds: 1, heartbeatSeconds: 1 });
    background(opts);
    await until(() => existsSync(join(out, 'web.yaml')), 'first apply');
    await h.stopServer();
    await until(() => opts.logger.lines.some((l) => l.includes('lost connection to')), 'the lost-connection line');
    await h.commit({ web: { content: 'v: 2\n' }, api: { content: 'kind: Api\n' } });
    await new Promise((r) => setTimeout(r, 500)); // let several reconnect attempts fail
    await h.startServer();
    await until(() => existsSync(join(out, 'api.yaml')) && read('web.yaml') === 'v: 2\n', 'changes made while down');
    await until(() => opts.logger.lines.some((l) => l.includes('connected again')), 'the connected-again line');
    expect(opts.logger.lines.filter((l) => l.includes('lost connection to'))).toHaveLength(1);
    expect(opts.logger.lines.filter((l) => l.includes('connected again'))).toHaveLength(1);
  });

  it('says it is connected again as soon as the daemon is back, not after a full long poll', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    await h.commit({ web: { content: 'v: 1\n' } });
    // Long polls of 30 s and no heartbeat: only the poll loop can notice that the daemon is back.
    const opts = agentOpts(agent.pak, { waitSeconds: 30, heartbeatSeconds: 0 });
    background(opts);
    await until(() => existsSync(join(out, 'web.yaml')), 'first apply');
    // Settled: the SUCCESS reported, then a long poll parked (the agent polls again only after reporting,
    // and a poll parks only on the current tag).
    await until(async () => (await h.events(agent.id)).some((e) => e.status === 'SUCCESS') && h.waiting() > 0, 'the SUCCESS and a parked long poll');
    await h.stopServer();
    await until(() => opts.logger.lines.some((l) => l.includes('lost connection to')), 'the lost-connection line');
    await h.startServer();
    // Nothing changed while it was down, so a reconnecting long poll would be held for 30 s: any
    // bound well below that tells the two apart (5 s was tight on a loaded machine).
    await until(() => opts.logger.lines.some((l) => l.includes('connected again')), 'the connected-again line', 20_000);
  });

  it('restores a file edited or deleted by hand', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    await h.commit({ web: { content: 'v: 1\n' } });
    const opts = agentOpts(agent.pak, { driftSeconds: 0.1 });
    background(opts);
    await until(() => existsSync(join(out, 'web.yaml')), 'first apply');
    writeFileSync(join(out, 'web.yaml'), 'hand: edit\n');
    await until(() => read('web.yaml') === 'v: 1\n', 'the edited file to be restored');
    rmSync(join(out, 'web.yaml'));
    await until(() => existsSync(join(out, 'web.yaml')) && read('web.yaml') === 'v: 1\n', 'the deleted file to be restored');
    expect(opts.logger.lines.some((l) => l.includes('restored web.yaml: it was edited by hand'))).toBe(true);
    // The agent logs the restore after the file is in place: the test can see the file first.
    await until(() => opts.logger.lines.some((l) => l.includes('restored web.yaml: it was deleted by hand')), 'the deleted-by-hand line');
  });

  it('a stop request during an apply lets the apply finish, records it, and exits 0', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    const started = join(out, 'started');
    const sink = join(out, 'applied');
    const opts = agentOpts(agent.pak, { applyCommand: `touch ${started}; sleep 1; cat > ${sink}` });
    const run = background(opts);
    await h.commit({ web: { content: 'kind: Web\n' } });
    await until(() => existsSync(started), 'the apply to start');
    expect(await run.stop()).toEqual({ code: 0 });
    expect(readFileSync(sink, 'utf8')).toBe('kind: Web\n');
    expect(Object.values(JSON.parse(readFileSync(join(out, STATE_FILE), 'utf8')).stacks)).toHaveLength(1);
  });

  it('a stack name that would escape OUT is refused with a FAILURE event and nothing written outside', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    await h.commit({ '../escape': { content: 'kind: Bad\n' }, ok: { content: 'kind: Ok\n' } });
    const exit = await runAgent(agentOpts(agent.pak, { once: true }));
    expect(exit.code).toBe(1);
    expect(existsSync(join(out, '..', 'escape.yaml'))).toBe(false);
    expect(yamlFiles()).toEqual(['ok.yaml']);
    const failure = (await h.events(agent.id)).find((e) => e.status === 'FAILURE');
    expect(failure?.message).toContain('cannot be used as a file name');
  });

  it('two stacks mapping to the same file: the second is a FAILURE naming both', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    await h.commit({ 'a/b': { content: 'one: 1\n' } });
    await runAgent(agentOpts(agent.pak, { once: true }));
    await h.commit({ a__b: { content: 'two: 2\n' } });
    const exit = await runAgent(agentOpts(agent.pak, { once: true }));
    expect(exit.code).toBe(1);
    expect(read('a__b.yaml')).toBe('one: 1\n');
    const failure = (await h.events(agent.id)).find((e) => e.status === 'FAILURE');
    expect(failure?.message).toMatch(/file name collision: stacks "a\/b" and "a__b" both map to a__b\.yaml/);
  });

  it('a PAK that is not an agent’s is a clear error', async () => {
    const exit = await runAgent(agentOpts(h.adminPak, { once: true }));
    expect(exit).toMatchObject({ code: 1, message: expect.stringContaining('this PAK belongs to the admin, not to an agent') });
  });

  it('an unknown PAK is rejected with a hint, and does not retry forever', async () => {
    const exit = await runAgent(agentOpts('brk_not-a-real-pak'));
    expect(exit).toMatchObject({ code: 1, message: expect.stringMatching(/rejected the PAK \(401\)/) });
  });

  it('--once against an unreachable daemon fails with the reason', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    await h.stopServer();
    const exit = await runAgent(agentOpts(agent.pak, { once: true }));
    expect(exit).toMatchObject({ code: 1, message: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('a deleted agent stops with a clear error', async () => {
    const agent = await h.createAgent('a1', ['prod']);
    const opts = agentOpts(agent.pak, { waitSeconds: 1, heartbeatSeconds: 0 });
    const run = background(opts);
    await until(() => opts.logger.lines.some((l) => l.includes('connected to')), 'the agent to start');
    await fetch(`${h.url}/api/v1/agents/${agent.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${h.adminPak}` } });
    expect(await run.done).toMatchObject({ code: 1, message: expect.stringMatching(/rejected the PAK \(401\).*deleted or its PAK rotated/) });
  });
});
