/** Load the in-memory view of one generator's synced state (stacks by directory, invalid directories, layout at the cursor). */
import { listRootTree, manifestDir } from './git-reads.js';
import type { SyncEnv, SyncView } from './sync-env.js';

/** Stacks and errors from the store; the layout at the cursor is loaded later, only if needed. */
export async function loadView(env: SyncEnv, cursor: string | null): Promise<SyncView> {
  const [stacks, errors] = await Promise.all([
    env.store.listSyncedStacks(env.generatorId),
    env.store.listSyncErrors(env.generatorId),
  ]);
  return {
    cursor,
    stackDirs: null,
    stacks: new Map(stacks.map((s) => [s.path, s])),
    invalidDirs: new Set(errors.map((e) => e.stack_path)),
  };
}

/** The stack directories in the cursor's tree: one listing, once per syncer lifetime. */
export async function loadStackDirs(env: SyncEnv, view: SyncView): Promise<void> {
  if (view.stackDirs !== null || view.cursor === null) return;
  const dirs = new Set<string>();
  for (const entry of await listRootTree(env, view.cursor)) {
    const dir = manifestDir(env.root, entry.path);
    if (dir !== null && entry.type !== 'tree') dirs.add(dir);
  }
  view.stackDirs = dirs;
}
