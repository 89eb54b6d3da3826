/** Call back soon after a local repository's branch moves: fs.watch on the directories of the ref files, debounced. */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { GitError, summarizeStderr } from './git-error.js';
import { gitEnv } from './run-git.js';

export interface RefWatcher {
  /** Resolves once the watcher is armed (changes before this may be missed). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export interface WatchRefsOptions {
  /**
   * Quiet time before calling back, so a burst (lock file, rename, reflog) is one call. Short
   * (default 5 ms): it delays every commit, and the syncer coalesces requests during a pass anyway.
   */
  debounceMs?: number;
  /** Told about watcher errors (the periodic poll remains the fallback). */
  onError?: (err: Error) => void;
}

function gitPath(repoPath: string, flag: '--git-dir' | '--git-common-dir'): string {
  try {
    const out = execFileSync('git', ['rev-parse', flag], { cwd: repoPath, env: gitEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    return isAbsolute(out) ? out : resolve(repoPath, out);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    throw new GitError('NOT_A_REPOSITORY', `cannot watch ${repoPath}: ${summarizeStderr(stderr)}`);
  }
}

/**
 * Watch `branch`'s ref (or, for 'HEAD', every branch) in the repository at `repoPath`. Git updates a ref by writing `<ref>.lock`
 * and renaming it over the ref, so the directories are watched (not the ref file's inode, which a
 * rename replaces) and events are filtered by name to the branch ref, `packed-refs` (after `git gc`
 * or `pack-refs`) and `HEAD`. `.git` may be a file (worktrees, submodules): paths come from git.
 *
 * Plain `fs.watch` on those few directories, nothing else: an event costs a lookup of its file
 * name. (chokidar, used before, re-read and lstat-ed the whole `.git` directory after every event
 * in it, and `git add` / `git commit` write the index in thousands of chunks in a large
 * repository: ~40 ms of the daemon's CPU per commit at 10,000 stacks, growing with the
 * repository — bench F14.)
 */
export function watchRefs(repoPath: string, branch: string, onChange: () => void, options: WatchRefsOptions = {}): RefWatcher {
  const gitDir = gitPath(repoPath, '--git-dir');
  const commonDir = gitPath(repoPath, '--git-common-dir');
  const headsDir = join(commonDir, 'refs', 'heads');
  const refFile = join(commonDir, ...(branch.startsWith('refs/') ? branch : `refs/heads/${branch}`).split('/'));
  // 'HEAD' (branch not known yet): whichever branch HEAD points at, so any branch ref counts.
  const anyBranch = branch === 'HEAD';

  // Directory → the names in it whose events count.
  const names = new Map<string, Set<string>>();
  const want = (dir: string, name: string): void => {
    let set = names.get(dir);
    if (!set) names.set(dir, (set = new Set()));
    set.add(name);
  };
  want(gitDir, 'HEAD');
  want(commonDir, 'HEAD');
  want(commonDir, 'packed-refs');
  want(dirname(refFile), refFile.slice(dirname(refFile).length + 1));
  // The directories from the common dir down to the ref's (a branch name with slashes lives in
  // directories that may not exist yet): each is watched once it exists.
  const chain = new Set<string>();
  for (let dir = anyBranch ? headsDir : dirname(refFile); dir.startsWith(commonDir + sep); dir = dirname(dir)) chain.add(dir);
  const underHeads = (dir: string): boolean => anyBranch && (dir === headsDir || dir.startsWith(headsDir + sep));

  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const fire = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      if (!closed) onChange();
    }, options.debounceMs ?? 5);
  };
  const unwatch = (dir: string): void => {
    watchers.get(dir)?.close();
    watchers.delete(dir);
  };
  /** Watch `dir` (again: a directory deleted and created anew is another inode) if it exists. */
  const arm = (dir: string): void => {
    if (closed) return;
    unwatch(dir);
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: true }, (_event, name) => onEvent(dir, name === null ? null : String(name)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') options.onError?.(err as Error);
      return;
    }
    watcher.on('error', (err) => {
      if (watchers.get(dir) === watcher) unwatch(dir);
      options.onError?.(err instanceof Error ? err : new Error(String(err)));
    });
    watchers.set(dir, watcher);
    if (underHeads(dir)) {
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) arm(join(dir, entry.name));
    }
  };
  const isDirectory = (path: string): boolean => {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  };
  const onEvent = (dir: string, name: string | null): void => {
    if (name === null) return fire(); // the platform did not say which entry: assume ours
    if (names.get(dir)?.has(name)) return fire();
    const path = join(dir, name);
    if (chain.has(path)) {
      arm(path); // a directory on the way to the ref appeared (or went): the ref may be in it already
      return fire();
    }
    if (underHeads(dir) && !name.endsWith('.lock')) {
      if (isDirectory(path)) arm(path);
      else unwatch(path);
      fire();
    }
  };

  for (const dir of new Set([gitDir, commonDir, ...[...chain].reverse(), ...names.keys()])) arm(dir);

  return {
    ready: Promise.resolve(),
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const dir of [...watchers.keys()]) unwatch(dir);
    },
  };
}
