/** What a sync pass did, as plain values: per commit the stacks created/updated/deleted and every stack error. */
import type { CommitInfo, SyncError, Uuid } from '../store/records.js';

/** Why a pass could not sync at all (the last good state keeps being served); failure-class.ts says which need a person. */
export const SYNC_FAILURE_CODES = [
  'GIT_UNAVAILABLE', // fetch/clone/read failed: network, timeout, a transient git error (retried)
  'BRANCH_MISSING', // the tracked branch does not exist (or has no commits)
  'ROOT_MISSING', // --root names no directory at the branch tip (a typo must not delete every stack)
  'REPOSITORY_NOT_FOUND', // no repository at the path or URL
  'CREDENTIALS_REJECTED', // the remote refused the credentials (or asked for some and none were given)
  'CREDENTIALS_MISSING', // the environment variables the repository's auth names are not set
  'CONFIG_INVALID', // the repository's settings cannot work (e.g. token auth on an ssh URL)
  'CURSOR_MOVED', // another writer advanced the cursor and retrying did not settle it
  'LEASE_LOST', // this replica's sync lease ran out mid-pass (stalled, or cut off from the database): another replica syncs now
  'STORE_FAILED', // the database refused or failed the transaction
  'INTERNAL', // a bug: logged with its stack
] as const;
export type SyncFailureCode = (typeof SYNC_FAILURE_CODES)[number];

export interface SyncFailure {
  code: SyncFailureCode;
  message: string;
}

/** How a commit was compared with what the database holds. */
export type CommitMode =
  /** First sync: the tip's tree, one object per stack. */
  | 'snapshot'
  /** The previous commit's tree against this one's: only changed stacks are read. */
  | 'incremental'
  /** The new tip does not descend from the cursor: cursor tree against tip tree in one step. */
  | 'rewrite';

/** A stack error as recorded (stack_path = stack directory relative to the root). */
export type StackError = Omit<SyncError, 'generator_id' | 'created_at'>;

export interface StackChange {
  stack_id: Uuid;
  name: string;
  path: string;
}

export interface CommitReport {
  commit: CommitInfo;
  mode: CommitMode;
  /** New stack rows, each with its first deployment object. */
  created: (StackChange & { object_id: Uuid; sequence_id: number })[];
  /** Existing stacks: a new object (content), and/or changed rows (what lists the fields). */
  updated: (StackChange & {
    object?: { object_id: Uuid; sequence_id: number };
    /** e.g. ['labels', 'description', 'path'] — row changes; empty when only the content changed. */
    fields: string[];
    /** Set when the stack's directory moved (rename keeping `name:`). */
    previous_path?: string;
  })[];
  /** Soft-deleted stacks and the deletion markers the trigger wrote. */
  deleted: (StackChange & { marker_id: Uuid; sequence_id: number })[];
  /** Errors recorded at this commit (invalid stacks keep their last good object). */
  errors: StackError[];
  /** Stack paths whose earlier errors this commit cleared. */
  cleared: string[];
  /** How many stacks were read and built (cost of the commit). */
  stacks_read: number;
}

export interface SyncReport {
  /** Set when the pass could not run (nothing was applied after the failure point). */
  failure?: SyncFailure;
  branch: string | null;
  /** Cursor after the pass (the last applied commit). */
  cursor: string | null;
  /** One entry per applied commit, oldest first (a snapshot or rewrite is one entry). */
  commits: CommitReport[];
  warnings: string[];
  /** Stack paths with recorded errors after the pass. */
  invalid_stacks: string[];
  duration_ms: number;
  /** Another replica holds this repository's sync lease: this pass did nothing. */
  standby?: boolean;
}

/** Progress of a long pass: stacks built in a snapshot, or commits applied in a backlog. */
export interface SyncProgress {
  phase: 'snapshot' | 'commits';
  done: number;
  total: number;
}

/** A failure with its code, thrown inside a pass and turned into SyncReport.failure at its edge. */
export class SyncFailureError extends Error {
  constructor(
    readonly code: SyncFailureCode,
    message: string,
  ) {
    super(message);
    this.name = 'SyncFailureError';
  }
}
