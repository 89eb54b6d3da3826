/**
 * Pipeline step 2 — diff: the paths below the root that differ between the previous commit and
 * this one. A full compare (snapshot, rewrite without a usable cursor) lists the whole tree instead.
 */
import type { TreeChange, TreeEntry } from '../git/git-source.js';
import { gitCall, listRootTree, rootRelative } from './git-reads.js';
import type { CommitStep } from './resolve-step.js';
import type { SyncEnv } from './sync-env.js';

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
