/**
 * Sync failures that say what to do (issue 16 item 7), on a real daemon with real repositories:
 * each kind of failure is classified stalled (needs a person) or retrying (back-off), shown as a
 * condition with its reason and action in GET /generators, /status, /sync/status and
 * `brokkr-sync status` / `repos list`, and a stalled one is logged once until it clears.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderStatus } from '../../src/cli/commands/status.js';
import { parseRepositoryList } from '../../src/daemon/repository-spec.js';
import { GitError } from '../../src/git/git-error.js';
import { classifyFailure, conditionOf, gitFailureCode, parseRecordedFailure } from '../../src/sync/failure-class.js';
import { SYNC_FAILURE_CODES } from '../../src/sync/sync-report.js';
import { requireBuild, runCli } from '../e2e/cli-process.js';
import { makeRepoSync, type TestRepo } from '../helpers/git-repo.js';
import { ADMIN_PAK, closedPort, startGitHttpServer, startRepoDaemon, tempDir, until, writeStack, type GitHttpServer, type RepoDaemon } from '../repositories/support/world.js';

let dir: string;
let repo: TestRepo;
let server: GitHttpServer;
let d: RepoDaemon;

const STALLED = {
  'no-root': 'ROOT_MISSING',
  'no-branch': 'BRANCH_MISSING',
  gone: 'REPOSITORY_NOT_FOUND',
  refused: 'CREDENTIALS_REJECTED',
  'no-env': 'CREDENTIALS_MISSING',
} as const;

beforeAll(async () => {
  requireBuild();
  dir = tempDir('brokkr-conditions-');
  repo = makeRepoSync('brokkr-conditions-repo-');
  writeStack(repo, 'stacks/web', 'cond-web').commit('web');
  server = await startGitHttpServer({ user: 'bot', password: 'right' });
  server.publish('private', repo);
  const port = await closedPort();
  const env = { GIT_USER: 'bot', WRONG_TOKEN: 'wrong' };
  d = await startRepoDaemon({
    dir,
    env,
    repositories: parseRepositoryList(
      [
        { name: 'good', url: repo.path, interval: 60 },
        { name: 'no-root', url: repo.path, root: 'clusters', interval: 60 },
        { name: 'no-branch', url: repo.path, branch: 'release', interval: 60 },
        { name: 'gone', url: join(dir, 'no-such-repository'), interval: 60 },
        { name: 'refused', url: server.urlOf('private'), interval: 60, auth: { usernameEnv: 'GIT_USER', passwordEnv: 'WRONG_TOKEN' } },
        { name: 'no-env', url: server.urlOf('private'), interval: 60, auth: { usernameEnv: 'GIT_USER', passwordEnv: 'UNSET_TOKEN' } },
        { name: 'down', url: `http://127.0.0.1:${port}/down.git`, interval: 60 },
      ],
      env,
    ),
  });
  await d.daemon.firstSync;
}, 60_000);

afterAll(async () => {
  await d?.close();
  await server?.stop();
  repo?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('classification', () => {
  it('every failure code has a class and an action; a recorded failure reads back', () => {
    for (const code of SYNC_FAILURE_CODES) expect(classifyFailure(code).action.length).toBeGreaterThan(10);
    expect(parseRecordedFailure('ROOT_MISSING: the sync root …')).toEqual({ code: 'ROOT_MISSING', message: 'the sync root …' });
    expect(parseRecordedFailure('something a newer daemon wrote')).toEqual({ code: 'INTERNAL', message: 'something a newer daemon wrote' });
    expect(conditionOf(null)).toEqual({ condition: 'pending', reason: null, action: null });
    expect(conditionOf({ cursor_commit: 'abc', last_error: null })).toEqual({ condition: 'synced', reason: null, action: null });
  });

  it("git's words decide for a remote: refused and not found need a person, a dropped connection does not", () => {
    const remote = (m: string) => gitFailureCode(new GitError('REMOTE_UNREACHABLE', m));
    expect(remote("cannot fetch https://***@h/r.git (authentication failed: …): fatal: could not read Username for 'https://h'")).toBe('CREDENTIALS_REJECTED');
    expect(remote('cannot fetch git@h:r.git: git@h: Permission denied (publickey).')).toBe('CREDENTIALS_REJECTED');
    expect(remote("cannot clone https://h/r.git: remote: Repository not found.; fatal: repository 'https://h/r.git/' not found")).toBe('REPOSITORY_NOT_FOUND');
    expect(remote('cannot fetch https://h/r.git: fatal: unable to access: Failed to connect to h port 443: Connection refused')).toBe('GIT_UNAVAILABLE');
    expect(remote('cannot fetch https://h/r.git (timed out waiting for the remote): git gave no reason')).toBe('GIT_UNAVAILABLE');
    expect(gitFailureCode(new GitError('OBJECT_NOT_FOUND', 'blob x not found'))).toBe('GIT_UNAVAILABLE');
    expect(gitFailureCode(new Error('anything else'))).toBe('GIT_UNAVAILABLE');
  });
});

describe('conditions on a real daemon', () => {
  it('each repository shows its condition, reason and action in GET /generators, /status and /sync/status', async () => {
    const all = await until(async () => {
      const rows = (await d.call('GET', '/api/v1/generators')).body as any[];
      return rows.length === 7 && rows.every((g) => g.condition !== 'pending') && rows;
    }, 'every repository to have a condition');
    const byName = new Map(all.map((g) => [g.repository?.name ?? g.name, g]));
    expect(byName.get('good')).toMatchObject({ condition: 'synced', reason: null, action: null, last_error: null });
    for (const [name, code] of Object.entries(STALLED)) {
      const g = byName.get(name);
      expect(g, name).toMatchObject({ condition: 'stalled', reason: code, action: classifyFailure(code).action });
      expect(g.last_error, name).toMatch(new RegExp(`^${code}: `));
    }
    expect(byName.get('down')).toMatchObject({ condition: 'retrying', reason: 'GIT_UNAVAILABLE', action: classifyFailure('GIT_UNAVAILABLE').action });

    for (const path of ['/api/v1/status', '/api/v1/sync/status']) {
      const repos = (await d.call('GET', path)).body.repositories as any[];
      const noRoot = repos.find((r) => r.generator_name === 'no-root');
      expect(noRoot, path).toMatchObject({ condition: 'stalled', reason: 'ROOT_MISSING', action: classifyFailure('ROOT_MISSING').action });
      expect(repos.find((r) => r.generator_name === 'down'), path).toMatchObject({ condition: 'retrying', reason: 'GIT_UNAVAILABLE' });
    }
  });

  it('brokkr-sync status and repos list say stalled or retrying, with what to do', async () => {
    const [status, sync] = await Promise.all([d.call('GET', '/api/v1/status'), d.call('GET', '/api/v1/sync/status')]);
    const text = renderStatus(status.body, sync.body, new Map());
    expect(text).toContain(`Condition   stalled: ${classifyFailure('ROOT_MISSING').action}`);
    expect(text).toContain(`Condition   retrying: ${classifyFailure('GIT_UNAVAILABLE').action}`);

    const listed = await runCli(['repos', 'list', '--url', d.url, '--pak', ADMIN_PAK]);
    expect(listed.code, listed.stderr).toBe(0);
    const line = (name: string) => listed.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
    expect(line('no-branch')).toMatch(/STALLED: BRANCH_MISSING: .* — push the branch/);
    expect(line('down')).toMatch(/RETRYING: GIT_UNAVAILABLE: /);
    expect(line('good')).toMatch(/\bok\b/);
  });

  it('a stalled failure is logged once however often it is retried, again only after it cleared and came back', async () => {
    const noRoot = await d.generator('no-root');
    const failedLines = () => d.log.lines.filter((l) => l.repository === 'no-root' && l.level >= 50 && /^sync failed: /.test(l.msg));
    expect(failedLines()).toHaveLength(1);
    expect(failedLines()[0]!.msg).toMatch(/stalled until someone acts: commit the root directory/);
    for (let i = 0; i < 3; i++) {
      const report = (await d.call('POST', `/api/v1/generators/${noRoot.id}/sync`)).body;
      expect(report.failure.code).toBe('ROOT_MISSING');
    }
    expect(failedLines()).toHaveLength(1);

    // A person acts: the root appears, the condition clears.
    writeStack(repo, 'clusters/api', 'cond-api').commit('add clusters/');
    expect((await d.call('POST', `/api/v1/generators/${noRoot.id}/sync`)).body.failure).toBeUndefined();
    expect(await d.generator('no-root')).toMatchObject({ condition: 'synced', reason: null, last_error: null });

    // It breaks again: told again, once.
    repo.remove('clusters').commit('remove clusters/');
    for (let i = 0; i < 2; i++) await d.call('POST', `/api/v1/generators/${noRoot.id}/sync`);
    expect(failedLines()).toHaveLength(2);
    expect(await d.generator('no-root')).toMatchObject({ condition: 'stalled', reason: 'ROOT_MISSING' });
  });
});
