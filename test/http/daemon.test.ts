/** The daemon in-process and as the real `serve` process: admin PAK, readiness, a real commit waking a long poll, webhook, graceful shutdown. */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { ensureAdminPak } from '../../src/http/admin-pak.js';
import { startDaemon, type Daemon } from '../../src/daemon/daemon.js';
import { hashPak } from '../../src/http/pak.js';
import { openStore } from '../../src/store/open-store.js';
import type { StoreEngine } from '../../src/store/store.js';
import { makeRepoSync, type TestRepo } from '../helpers/git-repo.js';
import { ENGINES, openEngineStore } from '../store/store-fixture.js';
import { borrowTestDatabase } from '../support/postgres.js';
import { tempDir } from './http-fixture.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function stackRepo(): TestRepo {
  const repo = makeRepoSync();
  cleanups.push(() => repo.cleanup());
  repo.writeAll({ 'web/stack.yaml': 'labels: [prod]\n', 'web/app.yaml': 'kind: ConfigMap\nmetadata: {name: web}\n' });
  repo.commit('first');
  return repo;
}

/** A daemon over a temp file (sqlite) or an emptied database of this file (postgres, clones in a temp dir). */
async function daemon(engine: StoreEngine, repo: TestRepo, extra: Partial<Parameters<typeof startDaemon>[0]> = {}): Promise<Daemon> {
  const dir = tempDir();
  let db = join(dir, 'brokkr.db');
  if (engine === 'postgres') {
    const borrowed = await borrowTestDatabase('daemon');
    cleanups.push(borrowed.release); // after the daemon closed
    db = borrowed.url;
  }
  const d = await startDaemon({
    repo: repo.path,
    db,
    ...(engine === 'postgres' ? { dataDir: join(dir, 'data') } : {}),
    port: 0,
    env: {},
    logger: pino({ level: 'silent' }),
    dashboard: false,
    rateLimit: false,
    ...extra,
  });
  cleanups.push(() => d.close());
  return d;
}

const auth = (pak: string) => ({ authorization: `Bearer ${pak}` });

describe.each(ENGINES)('admin PAK (%s)', (engine) => {
  it('is generated on first start (beside a SQLite file; on PostgreSQL only printed) and kept on the next start', async () => {
    const { store, target } = await openEngineStore(engine);
    const first = await ensureAdminPak(store, target, {});
    expect(first.source).toBe('generated');
    expect(first.file).toBe(engine === 'sqlite' ? `${target}.admin-pak` : undefined);
    expect((await store.findPrincipal(hashPak(first.pak!)))?.role).toBe('admin');
    expect(await ensureAdminPak(store, target, {})).toEqual({ source: 'existing' });
  });

  it('BROKKR_ADMIN_PAK sets it (replacing a generated one) and writes no file; a short value is refused', async () => {
    const { store, target } = await openEngineStore(engine);
    const generated = await ensureAdminPak(store, target, {});
    const chosen = 'my-own-admin-pak-0123456789abcdef';
    expect(await ensureAdminPak(store, target, { BROKKR_ADMIN_PAK: chosen })).toEqual({ source: 'env' });
    expect((await store.findPrincipal(hashPak(chosen)))?.role).toBe('admin');
    expect(await store.findPrincipal(hashPak(generated.pak!))).toBeNull();
    await expect(ensureAdminPak(store, target, { BROKKR_ADMIN_PAK: 'short' })).rejects.toThrow(/at least 16 characters/);
  });
});

describe('admin PAK file (SQLite only: a PostgreSQL database has no file to sit beside)', () => {
  it('the generated PAK is written with mode 0600 next to the database', async () => {
    const db = join(tempDir(), 'brokkr.db');
    const store = await openStore(db);
    try {
      const first = await ensureAdminPak(store, db, {});
      expect(readFileSync(`${db}.admin-pak`, 'utf8').trim()).toBe(first.pak);
      expect(statSync(`${db}.admin-pak`).mode & 0o777).toBe(0o600);
    } finally {
      await store.close();
    }
  });
});

describe.each(ENGINES)('daemon (%s)', (engine) => {
  it('becomes ready after the first sync and serves the synced stacks', async () => {
    const repo = stackRepo();
    const d = await daemon(engine, repo);
    await d.firstSync;
    const ready = await fetch(`${d.url}/readyz`);
    expect(ready.status).toBe(200);
    const stacks = await (await fetch(`${d.url}/api/v1/stacks`, { headers: auth(d.adminPak!) })).json();
    expect(stacks.map((s: { name: string }) => s.name)).toEqual(['web']);
    const metrics = await (await fetch(`${d.url}/metrics`)).text();
    expect(metrics).toMatch(/brokkr_sync_commits_total 1/);
    expect(metrics).toMatch(/brokkr_sync_duration_seconds_count 1/);
  });

  it('a long poll is answered by a real commit to the repository before its timeout', async () => {
    const repo = stackRepo();
    const d = await daemon(engine, repo, { intervalSeconds: 3600 });
    await d.firstSync;
    const created = await (
      await fetch(`${d.url}/api/v1/agents`, {
        method: 'POST',
        headers: { ...auth(d.adminPak!), 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'edge', cluster_name: 'c', labels: ['prod'] }),
      })
    ).json();
    const url = `${d.url}/api/v1/agents/${created.agent.id}/target-state`;
    const first = await fetch(url, { headers: auth(created.initial_pak) });
    const etag = first.headers.get('etag')!;
    expect((await first.json())[0].yaml_content).toContain('name: web');
    const poll = fetch(`${url}?wait=60`, { headers: { ...auth(created.initial_pak), 'if-none-match': etag } });
    while (d.feed.waiting === 0) await new Promise((r) => setTimeout(r, 10));
    repo.write('web/app.yaml', 'kind: ConfigMap\nmetadata: {name: web-v2}\n').commit('second');
    const res = await poll;
    expect(res.status).toBe(200);
    const objects = await res.json();
    expect(objects[0].yaml_content).toContain('web-v2');
  });

  it('the webhook asks for a sync: 202 with a valid signature, 401 without or with a wrong one', async () => {
    const repo = stackRepo();
    const secret = 'hook-secret';
    const d = await daemon(engine, repo, { watch: false, webhookSecret: secret });
    await d.firstSync;
    repo.write('api/stack.yaml', 'labels: [prod]\n').write('api/app.yaml', 'kind: Service\n').commit('add api');
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const sign = (b: string) => `sha256=${createHmac('sha256', secret).update(b).digest('hex')}`;
    const hook = (headers: Record<string, string>) =>
      fetch(`${d.url}/api/v1/webhooks/git`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect((await hook({})).status).toBe(401);
    expect((await hook({ 'x-hub-signature-256': sign(`${body} `) })).status).toBe(401);
    expect((await hook({ 'x-gitlab-token': 'wrong' })).status).toBe(401);
    const stacksNow = async () =>
      ((await (await fetch(`${d.url}/api/v1/stacks`, { headers: auth(d.adminPak!) })).json()) as { name: string }[]).map((s) => s.name);
    expect(await stacksNow()).toEqual(['web']);
    const ok = await hook({ 'x-hub-signature-256': sign(body) });
    expect(ok.status).toBe(202);
    // The sync notifies the change feed when it wrote the new stack: check, then wait for the next
    // change (the version is read before the check, so a change in between is not missed).
    for (;;) {
      const version = d.feed.version;
      if ((await stacksNow()).length >= 2) break;
      if (!(await d.feed.waitFor(version, 20_000))) throw new Error('the hooked sync did not write the new stack within 20 s');
    }
    expect((await stacksNow()).sort()).toEqual(['api', 'web']);
    expect((await hook({ 'x-gitlab-token': secret })).status).toBe(202);
  });
});

describe('the serve process (SQLite: it checks the admin PAK file; serve on PostgreSQL is test/replicas)', () => {
  const main = join(process.cwd(), 'dist/cli/main.js');

  it('SIGTERM with a long poll in flight: the poll gets its answer, the process exits 0', async () => {
    expect(existsSync(main), 'run npm run build first (npm test does)').toBe(true);
    const repo = stackRepo();
    const dir = tempDir();
    const child = spawn(process.execPath, [main, 'serve', '--repo', repo.path, '--db', join(dir, 'b.db'), '--port', '0', '--log-level', 'warn'], {
      env: { ...process.env, BROKKR_ADMIN_PAK: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    while (!/admin PAK[^\n]*\n\s+(\S+)/.test(out)) {
      if (child.exitCode !== null) throw new Error(`serve exited early: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const url = /serving (http:\/\/\S+)/.exec(out)![1]!;
    const pak = /admin PAK[^\n]*\n\s+(\S+)/.exec(out)![1]!;
    expect(statSync(join(dir, 'b.db.admin-pak')).mode & 0o777).toBe(0o600);
    while ((await fetch(`${url}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 20));
    const created = await (
      await fetch(`${url}/api/v1/agents`, {
        method: 'POST',
        headers: { ...auth(pak), 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'edge', cluster_name: 'c', labels: ['prod'] }),
      })
    ).json();
    const tsUrl = `${url}/api/v1/agents/${created.agent.id}/target-state`;
    const etag = (await fetch(tsUrl, { headers: auth(created.initial_pak) })).headers.get('etag')!;
    const poll = fetch(`${tsUrl}?wait=60`, { headers: { ...auth(created.initial_pak), 'if-none-match': etag } });
    // The poll is parked once the metrics say so.
    for (;;) {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      if (/brokkr_long_polls_waiting 1/.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGTERM');
    const answer = await poll;
    expect(answer.status).toBe(304);
    expect(await exited).toBe(0);
    expect(err).toContain('SIGTERM: shutting down');
    expect(out).not.toContain(created.initial_pak);
  });
});
