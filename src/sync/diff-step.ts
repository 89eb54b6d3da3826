/**
 * Pipeline step 2 — diff: the paths below the root that differ between the previous commit and
 * this one. A full compare (snapshot, rewrite without a usable cursor) lists the whole tree instead.
 */
import type { TreeChange, TreeEntry } from '../git/git-source.js';
import { gitCall } from './resolve-step.js';
import { rootRelative, type CommitStep, type SyncEnv } from './sync-env.js';

export interface TreeDelta {
  step: CommitStep;
  /** Root-relative paths that changed, with git's status (A/M/D/T); null for a full compare. */
  changed: { path: string; status: TreeChange['status'] }[] | null;
  /** Full compare only: every entry below the root, paths root-relative. */
  tree: TreeEntry[] | null;
}

export async function diffStep(env: SyncEnv, step: CommitStep): Promise<TreeDelta> {
  if (step.from === null) {
    const tree = await listRootTree(env, step.commit.sha);
    return { step, changed: null, tree };
  }
  const from = step.from;
  const changes = await gitCall(() => env.git.diffTrees(from, step.commit.sha), 'diff commits');
  const changed: { path: string; status: TreeChange['status'] }[] = [];
  for (const change of changes) {
    const rel = rootRelative(env.root, change.path);
    if (rel !== null && rel !== '') changed.push({ path: rel, status: change.status });
  }
  return { step, changed, tree: null };
}

/** Every entry of a commit's tree below the root, with root-relative paths. */
export async function listRootTree(env: SyncEnv, sha: string, dir = ''): Promise<TreeEntry[]> {
  const prefix = env.root === '' ? dir : dir === '' ? env.root : `${env.root}/${dir}`;
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
