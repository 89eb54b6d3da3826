/**
 * What the sync steps share for reading the repository below the sync root: git calls whose
 * failures become sync failure codes, a commit's tree under the root, and the mapping between
 * repository paths and root-relative ones.
 */
import type { TreeEntry } from '../git/git-source.js';
import { MANIFEST_FILE, basenameOf, dirnameOf, isVisibleUnder } from '../manifest/stack-layout.js';
import { gitFailureCode } from './failure-class.js';
import type { SyncEnv } from './sync-env.js';
import { SyncFailureError } from './sync-report.js';

/** Run a git call; a failure says whether the repository cannot be read right now or needs a person. */
export async function gitCall<T>(fn: () => Promise<T>, what: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SyncFailureError) throw err;
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new SyncFailureError(gitFailureCode(err), `cannot ${what}: ${message}`);
  }
}

/** Every entry of a commit's tree below the root, with root-relative paths. */
export async function listRootTree(env: SyncEnv, sha: string, dir = ''): Promise<TreeEntry[]> {
  const prefix = repoPath(env.root, dir);
  const entries = await gitCall(() => env.git.listTree(sha, prefix === '' ? undefined : prefix), 'list the tree');
  // With the root at the repository root the listing is already root-relative: no copy.
  if (env.root === '') return entries.filter((entry) => entry.path !== '');
  const out: TreeEntry[] = [];
  for (const entry of entries) {
    const rel = rootRelative(env.root, entry.path);
    if (rel !== null && rel !== '') out.push({ ...entry, path: rel });
  }
  return out;
}

/** Repository path of a root-relative path. */
export function repoPath(root: string, rel: string): string {
  if (root === '') return rel;
  return rel === '' ? root : `${root}/${rel}`;
}

/** Root-relative path of a repository path, or null when it lies outside the root. */
export function rootRelative(root: string, path: string): string | null {
  if (root === '') return path;
  if (path === root) return '';
  return path.startsWith(`${root}/`) ? path.slice(root.length + 1) : null;
}

/**
 * Is this root-relative path a stack manifest? Returns its stack directory, or null. Hidden paths
 * are checked below the root, exactly as the manifest module's layout (and lint) do.
 */
export function manifestDir(root: string, path: string): string | null {
  if (basenameOf(path) !== MANIFEST_FILE || !isVisibleUnder(repoPath(root, path), root)) return null;
  return dirnameOf(path);
}

/** The stack directories of a listing below the root: every manifest that is not a directory. */
export function stackDirsOf(root: string, entries: readonly TreeEntry[]): Set<string> {
  const dirs = new Set<string>();
  for (const entry of entries) {
    const dir = manifestDir(root, entry.path);
    if (dir !== null && entry.type !== 'tree') dirs.add(dir);
  }
  return dirs;
}
