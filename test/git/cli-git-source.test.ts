/** GitSource over a real temporary repository: committed content only, listings, diffs, blobs. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openGitSource } from '../../src/git/open-git-source.js';
import { GitError } from '../../src/git/git-error.js';
import type { GitSource } from '../../src/git/git-source.js';
import { makeRepo, makeTempDir, type TestRepo } from '../helpers/git-repo.js';

let repo: TestRepo;
let source: GitSource;
let dataDir: { path: string; cleanup(): void };

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

describe('a local repository', () => {
  it('names itself by its path and reports its current branch', async () => {
    expect(source.displayName).toBe(repo.path);
    repo.write('a/stack.yaml', 'name: a\n');
    repo.commit('init');
    expect(await source.currentBranch()).toBe('main');
  });

  it('resolves a branch to its tip, or null when the branch does not exist', async () => {
    const sha = repo.commit('tip');
    expect(await source.resolveBranch('main')).toBe(sha);
    expect(await source.resolveBranch('nope')).toBeNull();
    await expect(source.resolveBranch('--upload-pack=evil')).rejects.toBeInstanceOf(GitError);
  });

  it('never shows uncommitted edits', async () => {
    repo.write('u/stack.yaml', 'name: u\n').write('u/cm.yaml', 'a: committed\n');
    const sha = repo.commit('committed');
    repo.write('u/cm.yaml', 'a: edited but not committed\n').write('u/new.yaml', 'b: 1\n');
    repo.git('add', 'u/new.yaml'); // staged is not committed either
    const entries = await source.listTree(sha, 'u');
    expect(entries.map((e) => e.path)).toEqual(['u/cm.yaml', 'u/stack.yaml']);
    const blobs = await source.readBlobs([entries[0].oid], 1024);
    expect(blobs.get(entries[0].oid)).toEqual(Buffer.from('a: committed\n'));
    expect(await source.resolveBranch('main')).toBe(sha);
    repo.git('reset', '-q');
    repo.remove('u/new.yaml');
    repo.git('checkout', '--', 'u/cm.yaml');
  });

  it('reads commit metadata with the committer date in UTC with milliseconds', async () => {
    const sha = repo.commit('Subject line\n\nbody text', { author: { name: 'Ådа Lovelace', email: 'ada@example.com' }, date: '2024-03-05T06:07:08+02:00' });
    const commit = await source.getCommit(sha);
    expect(commit).toEqual({
      sha,
      parents: [repo.git('rev-parse', `${sha}^`)],
      author_name: 'Ådа Lovelace',
      author_email: 'ada@example.com',
      subject: 'Subject line',
      committed_at: '2024-03-05T04:07:08.000Z',
    });
    await expect(source.getCommit('0'.repeat(40))).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
  });

  it('lists first-parent commits oldest first, skipping the commits of merged branches', async () => {
    const base = repo.commit('base');
    repo.checkout('feature', true);
    repo.write('f.txt', 'f');
    const featureCommit = repo.commit('feature work');
    repo.checkout('main');
    const m1 = repo.commit('main 1');
    repo.git('merge', '-q', '--no-ff', '-m', 'merge feature', 'feature');
    const merge = repo.head();
    const m2 = repo.commit('main 2');
    const commits = await source.listFirstParentCommits(base, m2);
    expect(commits.map((c) => c.sha)).toEqual([m1, merge, m2]);
    expect(commits[1].parents).toEqual([m1, featureCommit]);
    expect(commits.map((c) => c.subject)).toEqual(['main 1', 'merge feature', 'main 2']);
    expect(await source.listFirstParentCommits(m2, m2)).toEqual([]);
    expect(await source.isAncestor(base, m2)).toBe(true);
    expect(await source.isAncestor(m2, base)).toBe(false);
    expect(await source.isAncestor('1'.repeat(40), m2)).toBe(false);
  });

  it('lists trees with modes, sizes and paths with spaces, unicode and newlines', async () => {
    repo.write('odd/stack.yaml', '').write('odd/a b.yaml', 'x: 1\n').write('odd/dé.yaml', 'y: 2\n').write('odd/new\nline.yaml', 'z: 3\n');
    repo.symlink('odd/link.yaml', '/etc/passwd');
    writeFileSync(join(repo.path, 'odd', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    const sha = repo.commit('odd names');
    const entries = await source.listTree(sha, 'odd');
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect([...byPath.keys()].sort()).toEqual(['odd/a b.yaml', 'odd/dé.yaml', 'odd/link.yaml', 'odd/new\nline.yaml', 'odd/run.sh', 'odd/stack.yaml'].sort());
    expect(byPath.get('odd/a b.yaml')).toMatchObject({ mode: '100644', type: 'blob', size: 5 });
    expect(byPath.get('odd/link.yaml')).toMatchObject({ mode: '120000', type: 'blob' });
    expect(byPath.get('odd/run.sh')!.mode).toBe('100755');
    const all = await source.listTree(sha);
    expect(all.some((e) => e.path === 'a/stack.yaml')).toBe(true);
    expect(await source.listTree(sha, 'missing/dir')).toEqual([]);
    repo.write('my stack/é/stack.yaml', '');
    const spaced = repo.commit('dir with a space and unicode');
    expect(await source.treeId(spaced, 'my stack/é')).toMatch(/^[0-9a-f]{40}$/);
    expect((await source.listTree(spaced, 'my stack')).map((e) => e.path)).toEqual(['my stack/é/stack.yaml']);
  });

  it('gives a subtree id that changes only when something below it changes', async () => {
    repo.write('s1/stack.yaml', 'name: s1\n').write('s2/stack.yaml', 'name: s2\n');
    const c1 = repo.commit('two stacks');
    repo.write('s2/x.yaml', 'a: 1\n');
    const c2 = repo.commit('touch s2');
    expect(await source.treeId(c1, 's1')).toBe(await source.treeId(c2, 's1'));
    expect(await source.treeId(c1, 's2')).not.toBe(await source.treeId(c2, 's2'));
    expect(await source.treeId(c2, '')).toBe(repo.git('rev-parse', `${c2}^{tree}`));
    expect(await source.treeId(c2, 'nope')).toBeNull();
    expect(await source.treeId(c2, 's1/stack.yaml')).toBeNull();
    mkdirSync(join(repo.path, 'nl\ndir'), { recursive: true });
    repo.write('nl\ndir/stack.yaml', '');
    const c3 = repo.commit('dir with a newline');
    expect(await source.treeId(c3, 'nl\ndir')).toMatch(/^[0-9a-f]{40}$/);
  });

  it('diffs two commits: added, modified, deleted and type-changed paths', async () => {
    repo.write('d/stack.yaml', '').write('d/keep.yaml', 'k: 1\n').write('d/mod.yaml', 'm: 1\n').write('d/del.yaml', 'd: 1\n').write('d/type.yaml', 't: 1\n');
    const from = repo.commit('before');
    repo.write('d/mod.yaml', 'm: 2\n').remove('d/del.yaml').write('d/add me.yaml', 'a: 1\n').remove('d/type.yaml');
    repo.symlink('d/type.yaml', 'keep.yaml');
    const to = repo.commit('after');
    const changes = await source.diffTrees(from, to);
    const byPath = Object.fromEntries(changes.map((c) => [c.path, c]));
    expect(Object.keys(byPath).sort()).toEqual(['d/add me.yaml', 'd/del.yaml', 'd/mod.yaml', 'd/type.yaml']);
    expect(byPath['d/add me.yaml']).toMatchObject({ status: 'A', oldOid: null, oldMode: null, newMode: '100644' });
    expect(byPath['d/del.yaml']).toMatchObject({ status: 'D', newOid: null, newMode: null });
    expect(byPath['d/mod.yaml'].status).toBe('M');
    expect(byPath['d/type.yaml']).toMatchObject({ status: 'T', oldMode: '100644', newMode: '120000' });
  });

  it('diffs from nothing: every file of the commit is added', async () => {
    const tip = repo.head();
    const changes = await source.diffTrees(null, tip);
    const tree = await source.listTree(tip);
    expect(changes.every((c) => c.status === 'A')).toBe(true);
    expect(changes.map((c) => c.path).sort()).toEqual(tree.map((e) => e.path).sort());
  });

  it('renames show as a deletion and an addition', async () => {
    repo.write('r/stack.yaml', 'name: r\n');
    const from = repo.commit('r');
    repo.rename('r', 'r2');
    const to = repo.commit('renamed');
    const changes = await source.diffTrees(from, to);
    expect(changes.map((c) => `${c.status} ${c.path}`).sort()).toEqual(['A r2/stack.yaml', 'D r/stack.yaml']);
  });

  it('reads many blobs through one process, reports too-large blobs without reading them', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) files[`many/f${i}.yaml`] = `i: ${i}\n${'#'.repeat(i)}\n`;
    repo.writeAll(files).write('many/big.yaml', 'x'.repeat(200_000));
    const sha = repo.commit('many');
    const entries = await source.listTree(sha, 'many');
    const blobs = await source.readBlobs(
      entries.map((e) => e.oid),
      100_000,
    );
    for (const entry of entries) {
      const value = blobs.get(entry.oid)!;
      if (entry.path === 'many/big.yaml') expect(value).toEqual({ tooLarge: 200_000 });
      else expect(value).toEqual(Buffer.from(files[entry.path]));
    }
    const again = await source.readBlobs([entries[0].oid, entries[0].oid], 10);
    expect(again.size).toBe(1);
    await expect(source.readBlobs(['e'.repeat(40)], 10)).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    await expect(source.readBlobs(['HEAD'], 10)).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
  });

  it('reads blobs concurrently from parallel callers without mixing answers', async () => {
    const entries = await source.listTree(repo.head(), 'many');
    const small = entries.filter((e) => e.path !== 'many/big.yaml');
    const results = await Promise.all(small.slice(0, 50).map((e) => source.readBlobs([e.oid], 1000)));
    results.forEach((map, i) => expect(map.get(small[i].oid)!.toString()).toMatch(/^i: \d+\n/));
  });
});

describe('opening repositories', () => {
  it('a missing path is a clear error', async () => {
    await expect(openGitSource({ repo: '/nonexistent/brokkr-repo', dataDir: dataDir.path })).rejects.toMatchObject({
      code: 'REPO_NOT_FOUND',
      message: 'repository not found: /nonexistent/brokkr-repo does not exist',
    });
  });

  it('a directory that is not a repository is a clear error', async () => {
    const dir = makeTempDir();
    try {
      await expect(openGitSource({ repo: dir.path, dataDir: dataDir.path })).rejects.toMatchObject({
        code: 'NOT_A_REPOSITORY',
        message: expect.stringContaining(`${dir.path} is not a git repository`),
      });
    } finally {
      dir.cleanup();
    }
  });

  it('a subdirectory of a repository points at the top level and --root', async () => {
    await expect(openGitSource({ repo: join(repo.path, 'a'), dataDir: dataDir.path })).rejects.toMatchObject({
      code: 'NOT_A_REPOSITORY',
      message: expect.stringMatching(/is inside the git repository .*--root/),
    });
  });

  it('a bare repository is read in place', async () => {
    const bare = makeTempDir();
    try {
      repo.git('clone', '-q', '--bare', repo.path, join(bare.path, 'r.git'));
      const src = await openGitSource({ repo: join(bare.path, 'r.git'), dataDir: dataDir.path });
      expect(await src.resolveBranch('main')).toBe(repo.head());
      await src.close();
    } finally {
      bare.cleanup();
    }
  });
});
