/**
 * What every step of the sync pipeline is handed: what it syncs (settings, plain values) and what
 * it syncs with (live collaborators). The state at the cursor is the SyncView (sync-view.ts).
 */
import type { Logger } from 'pino';
import type { GitSource } from '../git/git-source.js';
import type { Store } from '../store/store.js';
import type { Uuid } from '../store/records.js';
import type { SyncProgress } from './sync-report.js';

/** What a syncer syncs: fixed for its lifetime once its generator is registered. */
export interface SyncSettings {
  generatorId: Uuid;
  /** This replica's sync lease holder id: every plan carries it, and applyCommit fences on it. */
  leaseHolder?: string;
  /** Sync root relative to the repository root: '' or 'a/b' (no leading or trailing slash). */
  root: string;
  maxContentBytes: number;
}

/** What a pass works with: the repository, the database, and where it tells what it does. */
export interface SyncCollaborators {
  git: GitSource;
  store: Store;
  logger: Logger;
  onProgress?: (progress: SyncProgress) => void;
}

export type SyncEnv = SyncSettings & SyncCollaborators;
