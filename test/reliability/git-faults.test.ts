/**
 * Git faults seen from the agents' side: an unreachable remote (behind credentials), the tracked
 * branch deleted, a corrupted repository, a repository replaced by a shallow clone. Each gives a
 * clear error in the sync status, the last good state keeps being served over HTTP, and syncing
 * resumes once the fault clears. (The sync-level behaviour is tested in test/sync.)
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeRepo, type TestRepo } from '../helpers/git-repo.js';
import { runCli, until } from './support/cli.js';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';
import { startDumbHttpRemote } from './support/dumb-http-git.js';
import { dbHealth } from './support/db-snapshot.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'brokkr-gitfault-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function repoWithStacks(): Promise<TestRepo> {
  const repo = await makeRepo('brokkr-gitfault-repo-');
  cleanups.push(() => repo.cleanup());
  for (const name of ['web', 'db']) {
    repo.write(`${name}/stack.yaml`, `name: ${name}\nlabels: [fleet]\n`).write(`${name}/cm.yaml`, `kind: ConfigMap\ndata: {v: "1"}\n`);
  }
  repo.commit('initial');
  return repo;
}

async function daemonOn(repo: string): Promise<TestDaemon> {
  const d = await startTestDaemon({ repo, dir: tempDir(), intervalSeconds: 1 });
  cleanups.push(() => d.close());
  await d.daemon.firstSync;
  return d;
}

/** An agent labelled like every stack, and a function reading its full target state. */
async function fleetAgent(d: TestDaemon) {
  const created = await d.call('POST', '/api/v1/agents', { body: { name: 'a', cluster_name: 'c', labels: ['fleet'] } });
  expect(created.status).toBe(201);
  const { agent, initial_pak: pak } = created.body;
  return async () => {
    const res = await d.call('GET', `/api/v1/agents/${agent.id}/target-state?mode=full`, { pak });
    expect(res.status).toBe(200);
    return (res.body as { sequence_id: number; yaml_content: string }[]).map((o) => `${o.sequence_id}:${o.yaml_content.includes('v: "2"') ? 'v2' : 'v1'}`);
  };
}

async function syncStatus(d: TestDaemon) {
  const res = await d.call('GET', '/api/v1/sync/status');
  expect(res.status).toBe(200);
  return res.body as { ready: boolean; repositories: { cursor_commit: string | null; last_error: string | null; repo: string; generator_name: string }[] };
}

const waitForError = (d: TestDaemon, re: RegExp) =>
  until(async () => re.test((await syncStatus(d)).repositories[0]?.last_error ?? ''), `a sync error matching ${re}`, 20_000);
const waitForCursor = (d: TestDaemon, sha: string) =>
  until(async () => (await syncStatus(d)).repositories[0]?.cursor_commit === sha, `the cursor to reach ${sha.slice(0, 7)}`, 20_000);

describe('git faults while serving', () => {
  it('a remote behind credentials goes away: the last good state is served, the error is clear and never shows the token, sync resumes when it is back', async () => {
    const remote = await startDumbHttpRemote();
    cleanups.push(() => remote.cleanup());
    const work = await repoWithStacks();
    work.push(remote.bare);
    remote.publish();

    const d = await daemonOn(remote.url);
    expect(remote.refused()).toBeGreaterThan(0); // git asked without credentials first: the token was really needed
    const state = await fleetAgent(d);
    const good = await state();
    expect(good).toHaveLength(2);

    await remote.stop();
    work.write('web/cm.yaml', 'kind: ConfigMap\ndata: {v: "2"}\n');
    const next = work.commit('change web');
    work.push(remote.bare);
    remote.publish();
    await waitForError(d, /REMOTE_UNREACHABLE|GIT_UNAVAILABLE/);
    const status = await syncStatus(d);
    expect(status.ready).toBe(true);
    expect(status.repositories[0]!.last_error).toMatch(/cannot fetch http:\/\/\*\*\*@127\.0\.0\.1:\d+\/repo\.git/);
    expect(await state()).toEqual(good);
    expect((await d.call('GET', '/readyz', { pak: null })).status).toBe(200);

    await remote.start();
    await waitForCursor(d, next);
    const after = await state();
    expect(after).toHaveLength(2);
    expect(after.filter((o) => o.endsWith('v2'))).toHaveLength(1);
    expect((await syncStatus(d)).repositories[0]!.last_error).toBeNull();

    // The token appears nowhere: status, generators, stacks, logs, the clone's config.
    const everything = [
      JSON.stringify(await syncStatus(d)),
      (await d.call('GET', '/api/v1/generators')).text,
      (await d.call('GET', '/api/v1/status')).text,
      (await d.call('GET', '/api/v1/stacks')).text,
      d.log.text(),
    ].join('\n');
    expect(everything).toContain('***@127.0.0.1');
    expect(everything).not.toContain(remote.token);
    const config = execFileSync('sh', ['-c', `cat ${join(d.dir, 'brokkr.db.d')}/repos/*/config`], { encoding: 'utf8' });
    expect(config).not.toContain(remote.token);
  }, 60_000);

  it('the tracked branch is deleted: BRANCH_MISSING in the status, the last good state is served, sync resumes when the branch is back', async () => {
    const repo = await repoWithStacks();
    const d = await daemonOn(repo.path);
    const state = await fleetAgent(d);
    const good = await state();
    const oldTip = repo.head();

    repo.checkout('elsewhere', true);
    repo.git('branch', '-D', 'main');
    await waitForError(d, /BRANCH_MISSING: branch main does not exist/);
    expect(await state()).toEqual(good);
    expect((await d.call('GET', '/readyz', { pak: null })).status).toBe(200);

    repo.write('web/cm.yaml', 'kind: ConfigMap\ndata: {v: "2"}\n');
    const next = repo.commit('change web on the new main');
    repo.git('branch', 'main', next);
    await waitForCursor(d, next);
    expect(next).not.toBe(oldTip);
    expect((await state()).filter((o) => o.endsWith('v2'))).toHaveLength(1);
    expect((await syncStatus(d)).repositories[0]!.last_error).toBeNull();
  }, 60_000);

  it('a corrupted repository (an object file deleted, then one overwritten with junk): a clear error, the last good state is served, sync resumes once repaired', async () => {
    const repo = await repoWithStacks();
    const d = await daemonOn(repo.path);
    const state = await fleetAgent(d);
    const good = await state();

    repo.write('web/cm.yaml', 'kind: ConfigMap\ndata: {v: "2"}\n');
    const blob = repo.git('hash-object', 'web/cm.yaml');
    const objectFile = join(repo.path, '.git', 'objects', blob.slice(0, 2), blob.slice(2));
    const next = repo.commit('change web');
    const saved = readFileSync(objectFile);
    const backup = join(tempDir(), 'object');
    copyFileSync(objectFile, backup);

    // The syncer may have read the commit before the damage; force a fresh read by damaging first, then waking it.
    await d.close();
    unlinkSync(objectFile);
    const again = await startTestDaemon({ repo: repo.path, dir: d.dir, intervalSeconds: 1 });
    cleanups.push(() => again.close());
    await again.daemon.firstSync;
    await waitForError(again, new RegExp(`^GIT_UNAVAILABLE: cannot read files: blob ${blob} not found`));
    const stateAgain = async () => {
      const res = await again.call('GET', '/api/v1/agents?name=a&cluster_name=c');
      expect(res.status).toBe(200);
      return res.body[0].id as string;
    };
    const agentId = await stateAgain();
    const served = await again.call('GET', `/api/v1/agents/${agentId}/target-state?mode=full`);
    expect(served.status).toBe(200);
    expect(served.body.map((o: { sequence_id: number }) => `${o.sequence_id}:v1`)).toEqual(good);

    // Junk instead of a missing file: still a clear error, never a crash.
    writeFileSync(objectFile, 'this is not a zlib stream');
    // A pass that starts after the damage (syncOnce queues one behind a pass in flight): a fixed
    // 1.5 s sleep here proved nothing, since last_error still held the missing-file error.
    const pass = await again.daemon.syncer.syncOnce();
    expect(pass.failure?.message).toMatch(new RegExp(`blob ${blob} not found`));
    const junk = (await syncStatus(again)).repositories[0]!;
    expect(junk.last_error).toMatch(new RegExp(`blob ${blob} not found`));
    expect(junk.cursor_commit).not.toBe(next);
    expect(again.log.lines.filter((l) => l.level >= 60)).toEqual([]); // nothing fatal, the process lives on

    // Repaired: the commit syncs.
    writeFileSync(objectFile, saved);
    await waitForCursor(again, next);
    expect((await syncStatus(again)).repositories[0]!.last_error).toBeNull();
    const health = dbHealth(again.dbPath);
    expect(health.integrity).toEqual(['ok']);
  }, 60_000);

  it('a first sync of a repository whose root tree object is missing fails clearly instead of recording an empty snapshot', async () => {
    const repo = await repoWithStacks();
    const tree = repo.git('rev-parse', 'HEAD^{tree}');
    unlinkSync(join(repo.path, '.git', 'objects', tree.slice(0, 2), tree.slice(2)));
    const db = join(tempDir(), 'brokkr.db');
    const run = await runCli(['sync', '--repo', repo.path, '--db', db]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/tree of commit [0-9a-f]{7} cannot be read .*missing objects/);
    expect(run.stdout).not.toMatch(/synced 1 commit/);
  }, 30_000);

  it('the repository is replaced by a shallow clone without the synced commit: a warning, and the state equals a fresh snapshot of the tip', async () => {
    const origin = await repoWithStacks();
    const live = join(tempDir(), 'live');
    execFileSync('git', ['clone', '-q', origin.path, live], { env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' } });
    const d = await daemonOn(live);
    const state = await fleetAgent(d);
    expect(await state()).toHaveLength(2);

    // Upstream moves on: web changes, db is removed, cache appears; the operator re-clones shallowly.
    origin.write('web/cm.yaml', 'kind: ConfigMap\ndata: {v: "2"}\n').commit('web v2');
    origin.remove('db').write('cache/stack.yaml', 'name: cache\nlabels: [fleet]\n').write('cache/cm.yaml', 'kind: C\n').commit('swap db for cache');
    const tip = origin.head();
    rmSync(live, { recursive: true, force: true });
    execFileSync('git', ['clone', '-q', '--depth', '1', `file://${origin.path}`, live], { env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' } });
    expect(execFileSync('git', ['rev-parse', '--is-shallow-repository'], { cwd: live, encoding: 'utf8' }).trim()).toBe('true');

    await waitForCursor(d, tip);
    expect(d.log.lines.some((l) => l.level === 40 && /history rewrite|no longer in the repository/.test(l.msg))).toBe(true);
    const stacks = (await d.call('GET', '/api/v1/stacks?include_deleted=true')).body as { name: string; deleted_at: string | null; latest_object: { is_deletion_marker: boolean } | null }[];
    const summary = stacks.map((s) => `${s.name}:${s.deleted_at ? 'deleted' : 'live'}:${s.latest_object?.is_deletion_marker ? 'marker' : 'object'}`).sort();
    expect(summary).toEqual(['cache:live:object', 'db:deleted:marker', 'web:live:object']);
    const delivered = await state();
    expect(delivered).toHaveLength(3); // web v2, cache, and db's deletion marker
    expect(delivered.filter((o) => o.endsWith('v2'))).toHaveLength(1);
  }, 60_000);
});
