/** Commits and trees read through the long-lived cat-file answer exactly what git's own commands print. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { CatFileProcess } from '../../src/git/cat-file-process.js';
import { openGitSource } from '../../src/git/open-git-source.js';
import type { GitSource } from '../../src/git/git-source.js';
import { LOG_FORMAT, parseDiffTree, parseLog, parseLsTree } from '../../src/git/parse-git-output.js';
import { makeRepo, makeTempDir, type TestRepo } from '../helpers/git-repo.js';

let repo: TestRepo;
let source: GitSource;
let dataDir: { path: string; cleanup(): void };

const gitDiffIn = (r: TestRepo, from: string, to: string) => parseDiffTree(Buffer.from(r.git('diff-tree', '-r', '--no-renames', '-z', from, to), 'utf8'));
const gitDiff = (from: string, to: string) => gitDiffIn(repo, from, to);
const gitLog = (...args: string[]) => parseLog(Buffer.from(repo.git('log', '-z', `--format=${LOG_FORMAT}`, ...args, '--'), 'utf8'));

beforeAll(async () => {
  repo = await makeRepo();
  dataDir = makeTempDir();
  source = await openGitSource({ repo: repo.path, dataDir: dataDir.path });
});

afterAll(async () => {
  await source.close();
  repo.cleanup();
  dataDir.cleanup();
});

describe('reads through the long-lived reader', () => {
  it('a diff of nested changes, a file turned directory and back, a symlink and a mode change equals diff-tree, in its order', async () => {
    repo.writeAll({
      'a/stack.yaml': 'name: a\n',
      'a/x/deep.yaml': 'd: 1\n',
      'a/run.sh': '#!/bin/sh\n',
      'b/stack.yaml': 'name: b\n',
      'b.yaml': 'f: 1\n',
      'c/stack.yaml': 'name: c\n',
      'c/gone/one.yaml': '1: 1\n',
      'c/gone/two.yaml': '2: 2\n',
      'link.yaml': 'l: 1\n',
      'swap': 'a file first\n',
    });
    const from = repo.commit('before');
    repo.write('a/x/deep.yaml', 'd: 2\n').write('a/x/y/deeper.yaml', 'e: 1\n').remove('c/gone').remove('b.yaml');
    repo.write('b.yaml/inner.yaml', 'now a directory\n').remove('swap').write('swap/inside.yaml', 'a directory now\n');
    repo.remove('link.yaml').symlink('link.yaml', 'a/stack.yaml');
    chmodSync(join(repo.path, 'a', 'run.sh'), 0o755);
    const to = repo.commit('after');

    const expected = gitDiff(from, to);
    expect(expected.length).toBeGreaterThan(6);
    expect(await source.diffTrees(from, to)).toEqual(expected);
    expect(await source.diffTrees(to, from)).toEqual(gitDiff(to, from));
  });

  it("a directory's listing equals ls-tree -r --long of it, sizes included", async () => {
    const sha = repo.head();
    for (const dir of ['a', 'a/x', 'b.yaml', 'swap']) {
      const tree = repo.git('rev-parse', `${sha}:${dir}`);
      const expected = parseLsTree(Buffer.from(repo.git('ls-tree', '-r', '-z', '--long', tree), 'utf8'), dir);
      expect(await source.listTree(sha, dir)).toEqual(expected);
    }
  });

  it('commit metadata equals git log: multi-line subjects, merges, unicode names', async () => {
    repo.write('m.yaml', 'm: 1\n');
    const wrapped = repo.commit('first line\nstill the subject\n\nbody', { author: { name: 'Zoë Ümlaut', email: 'z@example.com' } });
    repo.checkout('side', true);
    repo.write('side.yaml', 's: 1\n');
    repo.commit('side work');
    repo.checkout('main');
    repo.write('main.yaml', 'x: 1\n');
    repo.commit('main work');
    repo.git('merge', '-q', '--no-ff', '-m', 'merge side', 'side');
    const merge = repo.head();
    for (const sha of [wrapped, merge]) {
      const [expected] = gitLog('-1', '--no-walk', sha);
      expect(await source.getCommit(sha)).toEqual(expected);
    }
    expect((await source.getCommit(wrapped)).subject).toBe('first line still the subject');
  });

  it('a backlog longer than the walk limit still lists every first-parent commit, oldest first', async () => {
    const from = repo.head();
    for (let i = 0; i < 70; i++) {
      repo.write('counter.yaml', `n: ${i}\n`);
      repo.commit(`step ${i}`);
    }
    const to = repo.head();
    const expected = gitLog('--first-parent', '--ancestry-path', '--reverse', `${from}..${to}`);
    expect(expected).toHaveLength(70);
    expect(await source.listFirstParentCommits(from, to)).toEqual(expected);
    expect(await source.isAncestor(from, to)).toBe(true);
    const recent = expected[60].sha;
    expect(await source.listFirstParentCommits(recent, to)).toEqual(expected.slice(61));
  });

  it('a branch moved by a commit is seen at once, and a deleted branch resolves to null', async () => {
    repo.write('moved.yaml', 'v: 1\n');
    const first = repo.commit('move 1');
    expect(await source.resolveBranch('main')).toBe(first);
    repo.write('moved.yaml', 'v: 2\n');
    const second = repo.commit('move 2');
    expect(await source.resolveBranch('main')).toBe(second);
    repo.branch('temporary');
    expect(await source.resolveBranch('temporary')).toBe(second);
    repo.git('branch', '-q', '-D', 'temporary');
    expect(await source.resolveBranch('temporary')).toBeNull();
  });
});

describe("a one-file commit's reads, as a sync makes them", () => {
  it("cat-file is asked for the ref with its commit, nothing for the diff (one diff-tree request) or the stack's tree id, then the stack's tree, each new blob's size once and the contents; the answers equal git's", async () => {
    const own = await makeRepo();
    const dir = makeTempDir();
    const reader = await openGitSource({ repo: own.path, dataDir: dir.path });
    const realRequest = CatFileProcess.prototype.request;
    const asked: string[] = [];
    const spy = vi.spyOn(CatFileProcess.prototype, 'request').mockImplementation(function (this: CatFileProcess, object: string) {
      asked.push(`${(this as unknown as { mode: string }).mode} ${object}`);
      return realRequest.call(this, object);
    });
    try {
      own.writeAll({ 'apps/web/stack.yaml': 'name: web\n', 'apps/web/cm.yaml': 'v: 1\n', 'apps/web/svc.yaml': 's: 1\n', 'apps/db/stack.yaml': 'name: db\n' });
      const from = own.commit('first');
      // The pass before read `from`, its stack and its blobs.
      expect(await reader.resolveBranch('main')).toBe(from);
      await reader.getCommit(from);
      const before = await reader.listTree(from, 'apps/web');
      await reader.readBlobs(before.map((e) => e.oid), 1 << 20);
      own.write('apps/web/cm.yaml', 'v: 2\n');
      const to = own.commit('second');
      const newBlob = own.git('rev-parse', `${to}:apps/web/cm.yaml`);

      asked.length = 0;
      expect(await reader.resolveBranch('main')).toBe(to);
      expect((await reader.getCommit(to)).subject).toBe('second');
      expect(asked).toEqual(['batch refs/heads/main^{commit}']);

      asked.length = 0;
      expect(await reader.diffTrees(from, to)).toEqual(gitDiffIn(own, from, to));
      const tree = own.git('rev-parse', `${to}:apps/web`);
      expect(await reader.treeId(to, 'apps/web')).toBe(tree); // the diff named the changed directory
      expect(asked).toEqual([]);

      const listing = await reader.listTree(to, 'apps/web');
      expect(listing).toEqual(parseLsTree(Buffer.from(own.git('ls-tree', '-r', '-z', '--long', tree), 'utf8'), 'apps/web'));
      expect(asked).toEqual([`batch ${tree}`, `batch-check ${newBlob}`]);

      asked.length = 0;
      const blobs = await reader.readBlobs(listing.map((e) => e.oid), 1 << 20);
      expect(blobs.get(newBlob)?.toString()).toBe('v: 2\n');
      expect(asked.sort()).toEqual(listing.map((e) => `batch ${e.oid}`).sort());
    } finally {
      spy.mockRestore();
      await reader.close();
      own.cleanup();
      dir.cleanup();
    }
  });
});
