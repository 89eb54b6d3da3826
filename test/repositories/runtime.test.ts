/**
 * SPEC §9 repositories at run time, through the admin API and the built `brokkr-sync repos` CLI
 * against a real daemon: bad declarations are 400s that write nothing; `repos add` and
 * POST /generators add repositories that sync; `repos remove` stops syncing but keeps the stacks
 * (an agent keeps running them); `repos remove --prune` soft-deletes the generator and the agent
 * receives the deletion markers; after a restart the run-time additions are back and a
 * repository dropped from the config file is reported, not synced, its stacks kept.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRepositoryList } from '../../src/daemon/repository-spec.js';
import { openStore } from '../../src/store/open-store.js';
import { requireBuild, runCli } from '../e2e/cli-process.js';
import { makeRepoSync, type TestRepo } from '../helpers/git-repo.js';
import { ADMIN_PAK, createAgent, startRepoDaemon, targetState, tempDir, until, writeStack, type RepoDaemon } from './support/world.js';

const repos: Record<'kept' | 'dropped' | 'cli' | 'api' | 'pruned', TestRepo> = {} as never;
let dir: string;
let d: RepoDaemon;
let agent: { id: string; pak: string };

const config = (names: Array<'kept' | 'dropped'>) => parseRepositoryList(names.map((n) => ({ name: n, url: repos[n].path, interval: 1 })));
const start = (names: Array<'kept' | 'dropped'>) => startRepoDaemon({ dir, repositories: config(names), env: { PRESENT_USER: 'u', PRESENT_TOKEN: 't' } });
const cli = (...args: string[]) => runCli(['repos', ...args, '--url', d.url, '--pak', ADMIN_PAK]);
const synced = (name: string, repo: TestRepo) =>
  until(async () => {
    const g = await d.generator(name);
    return g?.cursor_commit === repo.head() && g;
  }, `${name} to sync ${repo.head().slice(0, 7)}`);

beforeAll(async () => {
  requireBuild();
  for (const name of ['kept', 'dropped', 'cli', 'api', 'pruned'] as const) {
    repos[name] = makeRepoSync(`brokkr-rt-${name}-`);
    writeStack(repos[name], `stacks/${name}`, `rt-${name}`).commit(`${name} v1`);
  }
  dir = tempDir();
  d = await start(['kept', 'dropped']);
  await d.daemon.firstSync;
  agent = await createAgent(d.url, 'rt-agent');
});

afterAll(async () => {
  await d?.close();
  for (const r of Object.values(repos)) r?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('repositories at run time', () => {
  it('bad declarations are a 400 with a clear message and write nothing', async () => {
    const before = (await d.call('GET', '/api/v1/generators')).body as any[];
    const url = repos.api.path;
    const cases: Array<[string, unknown, RegExp]> = [
      ['missing url', { name: 'x1' }, /url/],
      ['bad name', { name: '-no spaces', url }, /name/],
      ['too long a name', { name: 'n'.repeat(65), url }, /name/],
      ['credentials in the URL', { name: 'x2', url: 'https://bot:ghp_abcdef0123456789@git.example.com/a.git' }, /credentials/],
      ['unknown field', { name: 'x3', url, colour: 'red' }, /colour|additional/],
      ['auth with both forms', { name: 'x4', url: 'https://git.example.com/a.git', auth: { username_env: 'PRESENT_USER', password_env: 'PRESENT_TOKEN', ssh_key_file: '/k' } }, /sshKeyFile|both/],
      ['an unset variable', { name: 'x5', url: 'https://git.example.com/a.git', auth: { username_env: 'PRESENT_USER', password_env: 'NOT_SET_ANYWHERE' } }, /NOT_SET_ANYWHERE.*not set/],
      ['a zero interval', { name: 'x6', url, interval: 0 }, /interval/],
    ];
    for (const [what, body, message] of cases) {
      const res = await d.call('POST', '/api/v1/generators', { body });
      expect(res.status, what).toBe(400);
      expect(res.body.message, what).toMatch(message);
      expect(res.body.message, what).not.toMatch(/\n|\s+at \S+:\d+/); // one line, no stack
    }
    const after = (await d.call('GET', '/api/v1/generators')).body as any[];
    expect(after.map((g) => g.id)).toEqual(before.map((g) => g.id));
    const stores = await Promise.all([d.daemon.store.listRepositories(), d.daemon.store.listGenerators()]);
    expect(stores[0].map((r) => r.name).sort()).toEqual(['dropped', 'kept']);
    expect(stores[1].map((g) => g.name).sort()).toEqual(['dropped', 'kept']);
  });

  it('repos add (CLI) and POST /generators add repositories that sync; repos list shows them', async () => {
    const added = await cli('add', 'cli', repos.cli.path, '--interval', '1', '--json');
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ name: 'cli', repository: { name: 'cli', origin: 'api' } });
    const posted = await d.call('POST', '/api/v1/generators', { body: { name: 'api', url: repos.api.path, interval: 1 } });
    expect(posted.status).toBe(201);
    expect(posted.body).toMatchObject({ name: 'api', repository: { name: 'api', origin: 'api', url: repos.api.path } });
    expect((await d.call('POST', '/api/v1/generators', { body: { name: 'pruned', url: repos.pruned.path, interval: 1 } })).status).toBe(201);

    for (const name of ['cli', 'api', 'pruned'] as const) {
      const g = await synced(name, repos[name]);
      expect((await d.call('GET', '/api/v1/stacks')).body.find((s: any) => s.name === `rt-${name}`)?.generator_id).toBe(g.id);
    }
    // A new commit of a run-time repository syncs too (the ref watcher runs for it).
    writeStack(repos.cli, 'stacks/cli', 'rt-cli', 'v2').commit('cli v2');
    await synced('cli', repos.cli);

    const list = await cli('list', '--json');
    expect(list.code, list.stderr).toBe(0);
    const rows = JSON.parse(list.stdout) as any[];
    expect(rows.map((r) => r.repository?.name).sort()).toEqual(['api', 'cli', 'dropped', 'kept', 'pruned']);
    for (const row of rows) expect(row).toMatchObject({ stacks: 1, invalid_stacks: 0, last_error: null, cursor_commit: expect.stringMatching(/^[0-9a-f]{40}$/), last_sync_at: expect.any(String) });
    // Adding a name twice through the CLI is an error, not a silent replacement of a config repository.
    const twice = await cli('add', 'kept', repos.api.path);
    expect(twice.code).not.toBe(0);
    expect(twice.stderr).toMatch(/config file/);
  });

  it('repos remove keeps the stacks and what the agent runs; --prune sends the deletion markers', async () => {
    const state = await targetState(d.url, agent);
    const names = ['rt-kept', 'rt-dropped', 'rt-cli', 'rt-api', 'rt-pruned'];
    expect(new Set(state.filter((o) => !o.is_deletion_marker).map((o) => o.yaml_content.match(/name: (rt-\w+)/)?.[1]))).toEqual(new Set(names));
    const cliGen = await d.generator('cli');
    const prunedGen = await d.generator('pruned');
    const cliStack = (await d.call('GET', '/api/v1/stacks')).body.find((s: any) => s.name === 'rt-cli');
    const prunedStack = (await d.call('GET', '/api/v1/stacks')).body.find((s: any) => s.name === 'rt-pruned');

    const removed = await cli('remove', 'cli');
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(/stay/);
    // Not synced any more: a new commit does not arrive; its stack and objects stay.
    // (A commit of a repository still synced, made after it, arriving proves the watchers ran.)
    writeStack(repos.cli, 'stacks/cli', 'rt-cli', 'v3').commit('cli v3');
    writeStack(repos.kept, 'stacks/kept', 'rt-kept', 'v2').commit('kept v2');
    await d.call('POST', '/api/v1/webhooks/git', { pak: null, body: {} }); // asks every repository still synced
    await synced('kept', repos.kept);
    const cliAfter = (await d.call('GET', '/api/v1/generators')).body.find((g: any) => g.id === cliGen.id);
    expect(cliAfter).toMatchObject({ repository: null, stacks: 1 });
    expect(cliAfter.cursor_commit).not.toBe(repos.cli.head());
    // Status marks the removed repository orphaned (its stacks stay), and only that one.
    const status = (await d.call('GET', '/api/v1/status')).body as { repositories: { generator_id: string; orphaned: boolean }[] };
    expect(status.repositories.filter((r) => r.orphaned).map((r) => r.generator_id)).toEqual([cliGen.id]);
    const kept = await targetState(d.url, agent);
    const cliObject = kept.find((o) => o.stack_id === cliStack.id);
    expect(cliObject).toMatchObject({ is_deletion_marker: false });
    expect(cliObject.yaml_content).toContain('"v2"');

    const pruned = await cli('remove', 'pruned', '--prune');
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toMatch(/deleted its 1 stack/);
    expect((await d.call('GET', '/api/v1/generators')).body.map((g: any) => g.id)).not.toContain(prunedGen.id);
    const afterPrune = await targetState(d.url, agent);
    expect(afterPrune.find((o) => o.stack_id === prunedStack.id)).toMatchObject({ is_deletion_marker: true });
    expect(afterPrune.find((o) => o.stack_id === cliStack.id)).toMatchObject({ is_deletion_marker: false });
    expect((await d.call('GET', '/api/v1/stacks')).body.map((s: any) => s.name)).not.toContain('rt-pruned');
  });

  it('after a restart: run-time repositories are back; one dropped from the config is reported, not synced, its stacks kept', async () => {
    const dropped = await d.generator('dropped');
    await d.close();
    d = await start(['kept']);
    await d.daemon.firstSync;

    const warning = d.log.lines.find((l) => l.level === 40 && l.repository === 'dropped');
    expect(warning?.msg).toMatch(/dropped is no longer in the config file.*not synced.*stacks stay/);
    const listed = (await d.call('GET', '/api/v1/generators')).body as any[];
    expect(listed.find((g) => g.id === dropped.id)).toMatchObject({ stacks: 1, repository: { name: 'dropped', dropped_from_config: true } });
    expect(listed.find((g) => g.name === 'api')).toMatchObject({ repository: { origin: 'api', dropped_from_config: false } });
    expect(listed.find((g) => g.name === 'cli')?.repository ?? null).toBeNull(); // removed stays removed
    expect(listed.map((g) => g.name)).not.toContain('pruned');

    writeStack(repos.api, 'stacks/api', 'rt-api', 'v2').commit('api v2');
    writeStack(repos.dropped, 'stacks/dropped', 'rt-dropped', 'v2').commit('dropped v2');
    writeStack(repos.kept, 'stacks/kept', 'rt-kept', 'v3').commit('kept v3');
    await d.call('POST', '/api/v1/webhooks/git', { pak: null, body: {} }); // asks every repository synced
    await synced('api', repos.api);
    await synced('kept', repos.kept);
    expect((await d.generator('dropped')).cursor_commit).toBe(dropped.cursor_commit);
    const state = await targetState(d.url, agent);
    const droppedStack = (await d.call('GET', '/api/v1/stacks')).body.find((s: any) => s.name === 'rt-dropped');
    expect(state.find((o) => o.stack_id === droppedStack.id)).toMatchObject({ is_deletion_marker: false });

    // The database still holds the dropped declaration (repos remove deletes it).
    const store = await openStore(d.dbPath);
    try {
      expect((await store.listRepositories()).map((r) => r.name).sort()).toEqual(['api', 'dropped', 'kept']);
    } finally {
      await store.close();
    }
  });

  it('a repository dropped from the config can be taken over at run time: repos add syncs it again, same generator', async () => {
    const dropped = await d.generator('dropped');
    const readded = await cli('add', 'dropped', repos.dropped.path, '--interval', '1', '--json');
    expect(readded.code, readded.stderr).toBe(0);
    expect(JSON.parse(readded.stdout)).toMatchObject({ id: dropped.id, repository: { origin: 'api', dropped_from_config: false } });
    await synced('dropped', repos.dropped);
  });
});
