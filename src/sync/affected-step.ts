/**
 * Pipeline step 3 — affected stacks: map changed paths to the stack directories that own them,
 * before and after the commit (a stack.yaml appearing or disappearing moves files between a
 * stack and its parent), so that only those stacks are read.
 */
import type { TreeEntry } from '../git/git-source.js';
import { isResourceName, isVisibleUnder, stackDirOf } from '../manifest/stack-layout.js';
import type { TreeDelta } from './diff-step.js';
import { manifestDir, repoPath, stackDirsOf } from './git-reads.js';
import type { CommitStep } from './resolve-step.js';
import type { SyncEnv } from './sync-env.js';
import type { SyncView } from './sync-view.js';

export interface AffectedStacks {
  step: CommitStep;
  /** Stack directories in the commit's tree. */
  stackDirs: Set<string>;
  /** Stack directories to read and build at this commit, sorted. */
  build: string[];
  /** Directories that held a stack before and hold none now. */
  gone: string[];
  /** Full compare only: the whole tree below the root (root-relative paths). */
  tree: TreeEntry[] | null;
}

export async function affectedStep(env: SyncEnv, delta: TreeDelta, view: SyncView): Promise<AffectedStacks> {
  const { step, tree } = delta;
  if (delta.changed === null || tree !== null) {
    const stackDirs = stackDirsOf(env.root, tree ?? []);
    // Everything the database or the view knows about is compared, so leftovers get deleted.
    const known = new Set([...view.stacks.keys(), ...view.invalidDirs, ...(view.stackDirs ?? [])]);
    const gone = [...known].filter((dir) => !stackDirs.has(dir));
    return { step, stackDirs, build: [...stackDirs].sort(), gone: gone.sort(), tree };
  }

  if (view.stackDirs === null) throw new Error('affectedStep: the stack layout at the cursor is not loaded');
  const before = view.stackDirs;
  // Copied only when a manifest moves: most commits change resources, and copying the layout of
  // 10,000 stacks on each of them made a one-stack commit cost grow with the repository.
  let after = before;
  let manifestTouched = false;
  for (const { path, status } of delta.changed) {
    const dir = manifestDir(env.root, path);
    if (dir === null) continue;
    if (!manifestTouched) after = new Set(before);
    manifestTouched = true;
    // D = the manifest is gone (also when it turned into a directory); A/M/T = it exists (a
    // manifest that became a symlink is still a stack, reported invalid by the build step).
    if (status === 'D') after.delete(dir);
    else after.add(dir);
  }

  const touched = new Set<string>();
  for (const { path } of delta.changed) {
    // A README, a chart archive or a hidden file is in no stack's content: reading the stack
    // would only find the same checksum again.
    if (manifestDir(env.root, path) === null && !(isResourceName(path) && isVisibleUnder(repoPath(env.root, path), env.root))) continue;
    const old = stackDirOf(path, before);
    const now = stackDirOf(path, after);
    if (old !== null) touched.add(old);
    if (now !== null) touched.add(now);
  }
  const build = new Set([...touched].filter((dir) => after.has(dir)));
  const gone = [...touched].filter((dir) => !after.has(dir) && (before.has(dir) || view.stacks.has(dir)));
  if (manifestTouched || gone.length > 0) {
    // A name may have been freed (removal, rename, changed name:): stacks refused for a
    // duplicate name get another chance. They are few, so all invalid ones are rebuilt.
    for (const dir of view.invalidDirs) if (after.has(dir)) build.add(dir);
  }
  return { step, stackDirs: after, build: [...build].sort(), gone: gone.sort(), tree: null };
}
