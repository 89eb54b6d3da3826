/**
 * What every step of the sync pipeline shares: the repository, the store, the root, and the
 * in-memory view of the database state at the cursor.
 */
import type { Logger } from 'pino';
import type { GitCommit, GitSource } from '../git/git-source.js';
import type { Store, SyncedStack } from '../store/store.js';
import type { Uuid } from '../store/records.js';
import type { CommitMode, SyncProgress } from './sync-report.js';

export interface SyncEnv {
  git: GitSource;
  store: Store;
  generatorId: Uuid;
  /** This replica's sync lease holder id: every plan carries it, and applyCommit fences on it. */
  leaseHolder?: string;
  /** Sync root relative to the repository root: '' or 'a/b' (no leading or trailing slash). */
  root: string;
  maxContentBytes: number;
  logger: Logger;
  onProgress?: (progress: SyncProgress) => void;
}

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

/** One unit of work: compare `from` (null = compare against the stored state) with `commit`. */
export interface CommitStep {
  mode: CommitMode;
  from: string | null;
  commit: GitCommit;
}
