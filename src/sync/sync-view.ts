/** The in-memory view of one generator's synced state (stacks by directory, invalid directories, layout at the cursor). */
import type { SyncedStack } from '../store/store.js';
import { listRootTree, manifestDir } from './git-reads.js';
import type { SyncEnv } from './sync-env.js';

/**
 * The database state at the cursor, kept in memory between commits so that a commit only reads
 * the stacks it touched. It is loaded once per syncer (and after any failure) and updated only
 * after applyCommit succeeded, so it never runs ahead of the database.
 */
export interface SyncView {
  cursor: string | null;
  /**
   * Stack directories (root-relative) in the tree at the cursor, valid or not; null until an
   * incremental commit needs them (a snapshot or full compare never does).
   */
  stackDirs: Set<string> | null;
  /** Live stacks of this generator by directory. */
  stacks: Map<string, SyncedStack>;
  /** Directories with recorded errors. */
  invalidDirs: Set<string>;
  /** Indexes over `stacks` by name and id, kept in step by writeStep (built on first use). */
  byName?: Map<string, SyncedStack>;
  byId?: Map<string, SyncedStack>;
}

/**
 * The name and id indexes of the view, built once and then maintained by writeStep: rebuilding
 * them from every stack on every commit made a one-stack commit's cost grow with the repository.
 */
export function viewIndexes(view: SyncView): { byName: Map<string, SyncedStack>; byId: Map<string, SyncedStack> } {
  view.byName ??= new Map([...view.stacks.values()].map((s) => [s.name, s]));
  view.byId ??= new Map([...view.stacks.values()].map((s) => [s.id, s]));
  return { byName: view.byName, byId: view.byId };
}

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
