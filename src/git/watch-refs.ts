/** Call back soon after a local repository's branch moves: chokidar on the ref files, debounced. */
import { execFileSync } from 'node:child_process';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { watch } from 'chokidar';
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
 * rename replaces) and events are filtered to the branch ref, `packed-refs` (after `git gc` or
 * `pack-refs`) and `HEAD`. `.git` may be a file (worktrees, submodules): paths come from git.
 */
export function watchRefs(repoPath: string, branch: string, onChange: () => void, options: WatchRefsOptions = {}): RefWatcher {
  const gitDir = gitPath(repoPath, '--git-dir');
  const commonDir = gitPath(repoPath, '--git-common-dir');
  const refsDir = join(commonDir, 'refs');
  const headsDir = join(refsDir, 'heads');
  const refFile = join(commonDir, ...(branch.startsWith('refs/') ? branch : `refs/heads/${branch}`).split('/'));
  const files = new Set([refFile, join(commonDir, 'packed-refs'), join(gitDir, 'HEAD'), join(commonDir, 'HEAD')]);
  // 'HEAD' (branch not known yet): whichever branch HEAD points at, so any branch ref counts.
  const anyBranch = branch === 'HEAD';
  const relevant = { has: (path: string): boolean => files.has(path) || (anyBranch && path.startsWith(headsDir + sep) && !path.endsWith('.lock')) };

  // Only descend where refs live: objects/, logs/ and the index change on every commit.
  const watched = (path: string): boolean =>
    path === commonDir || path === gitDir || path === refsDir || path === headsDir || path.startsWith(headsDir + sep) || relevant.has(path);

  const watcher = watch([commonDir, gitDir], {
    ignoreInitial: true,
    ignored: (path: string) => !watched(resolve(path)),
    persistent: true,
  });

  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const fire = (path: string): void => {
    if (closed || !relevant.has(resolve(path))) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      if (!closed) onChange();
    }, options.debounceMs ?? 5);
  };
  watcher.on('add', fire).on('change', fire).on('unlink', fire);
  // chokidar's file-level events can miss a ref renamed over again within a few milliseconds (it
  // re-arms a per-inode watch after each rename); the directory's raw fs.watch events do not.
  watcher.on('raw', (_event, name: string | null, details: unknown) => {
    const base = (details as { watchedPath?: string } | undefined)?.watchedPath;
    if (!base) return;
    fire(name ? join(base, name) : base);
    fire(base);
  });
  watcher.on('error', (err) => options.onError?.(err instanceof Error ? err : new Error(String(err))));
  const ready = new Promise<void>((resolveReady) => watcher.once('ready', () => resolveReady()));

  return {
    ready,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await watcher.close();
    },
  };
}
