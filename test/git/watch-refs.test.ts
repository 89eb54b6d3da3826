/** watchRefs calls back after a real `git commit` (lock file + rename), in a normal repo and a worktree. */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { watchRefs, type RefWatcher } from '../../src/git/watch-refs.js';
import { makeRepo, makeTempDir } from '../helpers/git-repo.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Resolves on the next callback. */
function nextChange(): { promise: Promise<void>; onChange: () => void; count: () => number } {
  let n = 0;
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return {
    promise,
    count: () => n,
    onChange: () => {
      n += 1;
      resolve();
    },
  };
}

async function watched(path: string, branch: string, onChange: () => void): Promise<RefWatcher> {
  const watcher = watchRefs(path, branch, onChange);
  cleanups.push(() => watcher.close());
  await watcher.ready;
  return watcher;
}

describe('watchRefs', () => {
  it('fires after a real git commit on the branch', async () => {
    const repo = await makeRepo();
    cleanups.push(() => repo.cleanup());
    repo.write('a.yaml', 'a: 1\n');
    repo.commit('first');
    const change = nextChange();
    await watched(repo.path, 'main', change.onChange);
    repo.write('a.yaml', 'a: 2\n');
    repo.commit('second');
    await change.promise;
    expect(change.count()).toBeGreaterThanOrEqual(1);
  });

  it('fires for every one of several commits made right after each callback', async () => {
    const repo = await makeRepo();
    cleanups.push(() => repo.cleanup());
    repo.commit('first');
    let resolveNext: () => void = () => undefined;
    await watched(repo.path, 'main', () => resolveNext());
    for (let i = 0; i < 8; i++) {
      const next = new Promise<void>((r) => (resolveNext = r));
      repo.git('commit', '-q', '--allow-empty', '-m', `commit ${i}`);
      await next; // a missed change would hang here until the test times out
    }
  });

  it('fires for the first commit of a new repository and for a branch name with a slash', async () => {
    const repo = await makeRepo();
    cleanups.push(() => repo.cleanup());
    const first = nextChange();
    await watched(repo.path, 'main', first.onChange);
    repo.commit('first ever');
    await first.promise;

    repo.checkout('team/feature', true);
    const feature = nextChange();
    await watched(repo.path, 'team/feature', feature.onChange);
    repo.commit('on feature');
    await feature.promise;
  });

  it('fires after a reset (history rewrite) and after refs are packed', async () => {
    const repo = await makeRepo();
    cleanups.push(() => repo.cleanup());
    const base = repo.commit('base');
    repo.commit('later');
    const reset = nextChange();
    await watched(repo.path, 'main', reset.onChange);
    repo.resetHard(base);
    await reset.promise;

    const packed = nextChange();
    await watched(repo.path, 'main', packed.onChange);
    repo.git('pack-refs', '--all');
    await packed.promise;
  });

  it("watching 'HEAD' fires for a commit on whatever branch is checked out", async () => {
    const repo = await makeRepo();
    cleanups.push(() => repo.cleanup());
    repo.commit('base');
    const change = nextChange();
    await watched(repo.path, 'HEAD', change.onChange);
    repo.commit('on main');
    await change.promise;
  });

  it('works in a linked worktree, where .git is a file', async () => {
    const repo = await makeRepo();
    const tmp = makeTempDir();
    cleanups.push(() => repo.cleanup(), () => tmp.cleanup());
    repo.commit('base');
    const worktree = join(tmp.path, 'wt');
    repo.git('worktree', 'add', '-q', '-b', 'wt-branch', worktree);
    const change = nextChange();
    await watched(worktree, 'wt-branch', change.onChange);
    repo.git('-C', worktree, 'commit', '-q', '--allow-empty', '-m', 'in worktree');
    await change.promise;
  });

  it('fires for a branch whose directories do not exist yet when the watch starts, and for a new namespaced branch when watching HEAD', async () => {
    const repo = await makeRepo();
    cleanups.push(() => repo.cleanup());
    repo.commit('base');
    // refs/heads/team/ does not exist yet: the watch must arm itself when git creates it.
    const later = nextChange();
    await watched(repo.path, 'team/later', later.onChange);
    const any = nextChange();
    await watched(repo.path, 'HEAD', any.onChange);
    repo.git('branch', 'team/later');
    await later.promise;
    await any.promise;
    // And commits on it afterwards, through the directory armed on the way.
    repo.checkout('team/later');
    let resolveNext: () => void = () => undefined;
    await watched(repo.path, 'team/later', () => resolveNext());
    for (let i = 0; i < 3; i++) {
      const next = new Promise<void>((r) => (resolveNext = r));
      repo.git('commit', '-q', '--allow-empty', '-m', `later ${i}`);
      await next;
    }
  });

  it('ignores what git writes beside the refs (index, objects, logs): an add and a commit of another branch do not fire', async () => {
    const repo = await makeRepo();
    cleanups.push(() => repo.cleanup());
    repo.commit('base');
    repo.checkout('other', true);
    const change = nextChange();
    await watched(repo.path, 'main', change.onChange);
    repo.write('a.yaml', 'a: 1\n');
    repo.git('add', 'a.yaml');
    repo.git('commit', '-q', '-m', 'on other');
    await new Promise((r) => setTimeout(r, 200));
    expect(change.count()).toBe(0);
    repo.checkout('main');
    repo.git('commit', '-q', '--allow-empty', '-m', 'on main');
    await change.promise;
  });

  it('refuses a directory that is not a repository', async () => {
    const tmp = makeTempDir();
    cleanups.push(() => tmp.cleanup());
    expect(() => watchRefs(tmp.path, 'main', () => undefined)).toThrow(/cannot watch/);
  });
});
