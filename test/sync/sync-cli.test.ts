/** `brokkr-sync sync` through the built CLI (`npm run build` first; `npm test` does): output per stack, errors, exit codes. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { makeRepo, makeTempDir, type TestRepo } from '../helpers/git-repo.js';
import { configMap, manifest, stackFiles } from './sync-fixture.js';

const MAIN = resolve('dist/cli/main.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], cwd?: string): Promise<Run> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BROKKR_')));
  return new Promise((done) => {
    execFile(process.execPath, [MAIN, ...args], { env, cwd }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
async function setup(): Promise<{ repo: TestRepo; db: string }> {
  const repo = await makeRepo();
  const tmp = makeTempDir();
  cleanups.push(() => repo.cleanup(), () => tmp.cleanup());
  return { repo, db: join(tmp.path, 'brokkr.db') };
}

describe('brokkr-sync sync', () => {
  it('prints what each commit changed per stack, every error as file:line, a summary, and exits 0 despite invalid stacks', async () => {
    const { repo, db } = await setup();
    repo.writeAll({ ...stackFiles('web', { name: 'payments-api' }), ...stackFiles('old-thing') }).commit('first');
    const first = await cli(['sync', '--repo', repo.path, '--db', db]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^[0-9a-f]{7} first \[snapshot\]$/m);
    expect(first.stdout).toMatch(/^ {2}\+ created payments-api seq \d+$/m);
    expect(first.stdout).toMatch(/^ {2}\+ created old-thing seq \d+$/m);
    expect(first.stdout).toMatch(/^synced 1 commit: 2 created, 0 updated, 0 deleted, 0 invalid stacks; cursor [0-9a-f]{7}/m);

    repo.write('web/stack.yaml', manifest({ name: 'payments-api', labels: ['prod'] })).commit('label');
    repo.remove('old-thing').commit('remove');
    const broken = repo.writeAll({ 'bad/stack.yaml': 'name: bad\nlables: [x]\n', 'bad/a.yaml': configMap('a') }).commit('bad');
    const second = await cli(['sync', '--repo', repo.path, '--db', db]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^ {2}~ updated payments-api: labels$/m);
    expect(second.stdout).toMatch(/^ {2}- deleted old-thing \(marker seq \d+\)$/m);
    expect(second.stdout).toContain(`bad/stack.yaml:2: unknown field "lables" (did you mean "labels"?) (stack bad at commit ${broken.slice(0, 7)})`);
    expect(second.stdout).toMatch(/^synced 3 commits: 0 created, 1 updated, 1 deleted, 1 invalid stack; cursor [0-9a-f]{7}/m);

    const again = await cli(['sync', '--repo', repo.path, '--db', db]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^up to date on main: .*1 invalid stack; cursor /m);

    const store = await openStore(db);
    try {
      expect((await store.listStacks()).map((s) => s.name)).toEqual(['payments-api']);
    } finally {
      await store.close();
    }
  });

  it('exits 1 with one clear line when it cannot sync at all', async () => {
    const { repo, db } = await setup();
    repo.writeAll(stackFiles('web')).commit('first');
    const missingBranch = await cli(['sync', '--repo', repo.path, '--db', db, '--branch', 'nope']);
    expect(missingBranch.code).toBe(1);
    expect(missingBranch.stderr).toMatch(/^error: cannot sync .*: branch nope does not exist/);
    expect(missingBranch.stderr.trim().split('\n')).toHaveLength(1);

    const missingRepo = await cli(['sync', '--repo', join(repo.path, 'nowhere'), '--db', db]);
    expect(missingRepo.code).toBe(1);
    expect(missingRepo.stderr).toMatch(/repository not found/);
    expect(missingRepo.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a repository without commits gets an error that says so, not just a missing branch', async () => {
    const { repo, db } = await setup();
    const empty = await cli(['sync', '--repo', repo.path, '--db', db]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/branch main does not exist .*no branch until its first commit/);
    expect(empty.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exits 2 on usage errors', async () => {
    const { repo, db } = await setup();
    expect((await cli(['sync', '--db', db])).code).toBe(2);
    const bad = await cli(['sync', '--repo', repo.path, '--db', db, '--max-bytes', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--max-bytes/);
  });

  it('keeps remote clones next to the database and never prints credentials', async () => {
    const { repo, db } = await setup();
    repo.writeAll(stackFiles('web')).commit('first');
    const ok = await cli(['sync', '--repo', repo.url, '--db', db]);
    expect(ok.code).toBe(0);
    expect(existsSync(`${db}.d`)).toBe(true);
    const secret = await cli(['sync', '--repo', 'https://user:s3cr3t-token@127.0.0.1:9/x.git', '--db', db, '--branch', 'main']);
    expect(secret.code).toBe(1);
    expect(secret.stderr + secret.stdout).not.toContain('s3cr3t-token');
  });
});
