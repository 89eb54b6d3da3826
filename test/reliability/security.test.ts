/**
 * Security properties of the real `serve` process: no PAK, repository token or webhook secret
 * ever reaches its output (at trace log level), agent records never carry pak_hash anywhere they
 * are served, and a generated admin PAK is written 0600 (even under umask 000) and printed once.
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeRepo } from '../helpers/git-repo.js';
import { killAll, startCli, until } from './support/cli.js';
import { startDumbHttpRemote } from './support/dumb-http-git.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  await killAll();
  while (cleanups.length) await cleanups.pop()!();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'brokkr-security-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const ADMIN_PAK = 'brk_SecurityTestAdminPak_9f8e7d6c5b4a3210';
const WEBHOOK_SECRET = 'whsec_DoNotLogMe_0123456789';

async function call(base: string, method: string, path: string, pak: string | null, body?: unknown) {
  const headers: Record<string, string> = {};
  if (pak) headers.authorization = `Bearer ${pak}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

describe('secrets never leave the serve process', () => {
  it('at trace level, no PAK (admin, agent, rotated, rejected), repository token or webhook secret appears in stdout or stderr, and no answer carries pak_hash', async () => {
    const remote = await startDumbHttpRemote();
    cleanups.push(() => remote.cleanup());
    const work = await makeRepo('brokkr-security-repo-');
    cleanups.push(() => work.cleanup());
    work.write('web/stack.yaml', 'name: web\nlabels: [prod]\n').write('web/cm.yaml', 'kind: ConfigMap\n').commit('web');
    work.push(remote.bare);
    remote.publish();

    const db = join(tempDir(), 'brokkr.db');
    const serve = startCli(['serve', '--repo', remote.url, '--db', db, '--port', '0', '--log-level', 'trace', '--webhook-secret', WEBHOOK_SECRET], {
      // GIT_CONFIG_GLOBAL (from the test env) and PREFIX once made simple-git refuse to clone.
      env: { BROKKR_ADMIN_PAK: ADMIN_PAK, PREFIX: '/usr/local' },
    });
    const base = (await until(() => /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(serve.stdout())?.[1], 'serve to print its URL', 20_000)) as string;
    await until(async () => (await call(base, 'GET', '/readyz', null)).status === 200, 'the first sync', 20_000).catch((err) => {
      throw new Error(`${String(err)}\n${serve.stdout().split("\n").filter((l) => !l.includes("readyz")).join(" // ").slice(0, 4000)}\n${serve.stderr().slice(-3000).replace(/\n/g, " // ")}`);
    });

    const texts: string[] = [];
    const record = async (...args: Parameters<typeof call>) => {
      const res = await call(...args);
      texts.push(`${args[1]} ${args[2]} → ${res.status} ${res.text}`);
      return res;
    };
    const created = JSON.parse((await record(base, 'POST', '/api/v1/agents', ADMIN_PAK, { name: 'a', cluster_name: 'c', labels: ['prod'] })).text);
    const agentPak: string = created.initial_pak;
    const id: string = created.agent.id;
    await record(base, 'GET', `/api/v1/agents/${id}/target-state`, agentPak);
    await record(base, 'POST', `/api/v1/agents/${id}/heartbeat`, agentPak);
    await record(base, 'GET', '/api/v1/agents', agentPak);
    const rotated = JSON.parse((await record(base, 'POST', `/api/v1/agents/${id}/rotate-pak`, ADMIN_PAK)).text);
    const newPak: string = rotated.pak;
    expect((await record(base, 'GET', `/api/v1/agents/${id}`, agentPak)).status).toBe(401);
    expect((await record(base, 'GET', `/api/v1/agents/${id}`, newPak)).status).toBe(200);
    const guessed = 'brk_AttackerGuessedThisPak_0000000000000000';
    expect((await record(base, 'GET', '/api/v1/agents', guessed)).status).toBe(401);
    for (const path of ['/api/v1/agents', '/api/v1/agents/', `/api/v1/agents/${id}`, '/api/v1/status', '/api/v1/sync/status', '/api/v1/generators', '/api/v1/stacks', '/api/v1/dashboard/agents', '/api/v1/dashboard/matrix']) {
      await record(base, 'GET', path, ADMIN_PAK);
    }
    await record(base, 'PUT', `/api/v1/agents/${id}`, ADMIN_PAK, { status: 'ACTIVE' });
    const payload = JSON.stringify({ ref: 'refs/heads/main' });
    const signature = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(payload).digest('hex')}`;
    const hook = await fetch(`${base}/api/v1/webhooks/git`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body: payload });
    expect(hook.status).toBe(202);
    // The remote goes away, so that a fetch failure (quoting the URL) is logged too.
    await remote.stop();
    await call(base, 'POST', '/api/v1/webhooks/git', null);
    await until(async () => /REMOTE_UNREACHABLE|GIT_UNAVAILABLE/.test((await call(base, 'GET', '/api/v1/sync/status', ADMIN_PAK)).text), 'the fetch failure', 20_000);
    texts.push((await call(base, 'GET', '/api/v1/sync/status', ADMIN_PAK)).text);

    const exit = await serve.kill('SIGTERM');
    expect(exit.code).toBe(0);
    const output = `${exit.stdout}\n${exit.stderr}`;
    expect(output).toContain('"level":'); // trace logging really ran
    expect(output).toMatch(/cannot fetch http:\/\/\*\*\*@127\.0\.0\.1/);
    for (const secret of [ADMIN_PAK, agentPak, newPak, guessed, remote.token, WEBHOOK_SECRET]) {
      expect(output.includes(secret), `a secret (${secret.slice(0, 8)}…) appears in the process output`).toBe(false);
    }
    // Only the create and rotate answers carry a PAK; no answer carries a stored hash.
    const answers = texts.join('\n');
    expect(answers).not.toContain('pak_hash');
    for (const pak of [ADMIN_PAK, agentPak, newPak]) expect(answers).not.toContain(createHash('sha256').update(pak).digest('hex'));
    expect(texts.filter((t) => t.includes(agentPak)).map((t) => t.split(' →')[0])).toEqual([`POST /api/v1/agents`]);
    expect(texts.filter((t) => t.includes(newPak)).map((t) => t.split(' →')[0])).toEqual([`POST /api/v1/agents/${id}/rotate-pak`]);
    expect(answers).not.toContain(remote.token);
  }, 60_000);
});

describe('the generated admin PAK', () => {
  it('is written with mode 0600 even under umask 000, printed by the start that created it and never again', async () => {
    const repo = await makeRepo('brokkr-security-pak-');
    cleanups.push(() => repo.cleanup());
    repo.write('s/stack.yaml', 'name: s\n').commit('s');
    const db = join(tempDir(), 'brokkr.db');
    const start = () => {
      // umask 000: a file created with default permissions would be world-readable. (Set in the main
      // thread only: the umask is the process's, and a worker thread, which runs the same --import, may not set it.)
      const preload = "import { isMainThread } from 'node:worker_threads'; if (isMainThread) process.umask(0);";
      return startCli(['serve', '--repo', repo.path, '--db', db, '--port', '0'], { nodeArgs: ['--import', `data:text/javascript,${encodeURIComponent(preload)}`] });
    };
    const first = start();
    const pak = (await until(() => /^\s+(brk_\S+)$/m.exec(first.stdout())?.[1], 'the printed admin PAK', 20_000)) as string;
    // SIGTERM once it serves (its handler is installed by then): sent right after the PAK line, a
    // loaded machine's daemon could still be syncing and end with 1 instead of a clean 0.
    await until(() => /serving/.test(first.stdout()), 'the first start to serve', 20_000);
    const firstRun = await first.kill('SIGTERM');
    expect(firstRun.code, firstRun.stdout + firstRun.stderr).toBe(0);
    const mode = statSync(`${db}.admin-pak`).mode & 0o777;
    expect(mode.toString(8)).toBe('600');
    const second = start();
    await until(() => /serving/.test(second.stdout()), 'the second start', 20_000);
    const secondRun = await second.kill('SIGTERM');
    expect(secondRun.stdout + secondRun.stderr).not.toContain(pak);
  }, 60_000);
});
