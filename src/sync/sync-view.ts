/** The in-memory view of one generator's synced state (stacks by directory, invalid directories, layout at the cursor). */
import type { SyncedStack } from '../store/store.js';
import { listRootTree, stackDirsOf } from './git-reads.js';
import type { SyncEnv } from './sync-env.js';
import type { WrittenCommit } from './write-step.js';

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
  /**
   * Indexes over `stacks` by name and id, built once with the view and then kept in step by
   * advanceView: rebuilding them on every commit made a one-stack commit's cost grow with the repository.
   */
  byName: Map<string, SyncedStack>;
  byId: Map<string, SyncedStack>;
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
    byName: new Map(stacks.map((s) => [s.name, s])),
    byId: new Map(stacks.map((s) => [s.id, s])),
  };
}

/** The stack directories in the cursor's tree: one listing, once per syncer lifetime. */
export async function loadStackDirs(env: SyncEnv, view: SyncView): Promise<void> {
  if (view.stackDirs !== null || view.cursor === null) return;
  view.stackDirs = stackDirsOf(env.root, await listRootTree(env, view.cursor));
}

/**
 * Move the view to a commit the store applied (never before: the view must not run ahead of the
 * database). Every directory a stack leaves is vacated first, then the new ones are occupied: two
 * stacks may swap directories in one commit.
 */
export function advanceView(view: SyncView, { planned, result }: WrittenCommit): void {
  const { byId, byName } = view;
  const forget = (s: SyncedStack | undefined) => {
    if (!s) return;
    if (byId.get(s.id) === s) byId.delete(s.id);
    if (byName.get(s.name) === s) byName.delete(s.name);
  };
  for (const stack of planned.deleted) {
    forget(byId.get(stack.id));
    if (view.stacks.get(stack.path)?.id === stack.id) view.stacks.delete(stack.path);
  }
  for (const { upsert } of result.written) {
    const moved = upsert.id === undefined ? undefined : byId.get(upsert.id);
    if (moved && moved.path !== upsert.path && view.stacks.get(moved.path)?.id === moved.id) view.stacks.delete(moved.path);
  }
  for (const { upsert, stack_id } of result.written) {
    const previous = upsert.id === undefined ? undefined : byId.get(upsert.id);
    forget(previous);
    forget(view.stacks.get(upsert.path));
    const next: SyncedStack = {
      id: stack_id,
      name: upsert.name,
      path: upsert.path,
      description: upsert.description,
      labels: upsert.labels,
      annotations: upsert.annotations,
      latest_checksum: upsert.content?.checksum ?? previous?.latest_checksum ?? null,
      ...(upsert.rollout ? { rollout: upsert.rollout } : {}),
    };
    view.stacks.set(upsert.path, next);
    byId.set(stack_id, next);
    byName.set(next.name, next);
  }
  for (const entry of planned.plan.errors) {
    if (entry.errors.length > 0) view.invalidDirs.add(entry.stack_path);
    else view.invalidDirs.delete(entry.stack_path);
  }
  view.stackDirs = planned.built.affected.stackDirs;
  view.cursor = planned.plan.commit.sha;
}
