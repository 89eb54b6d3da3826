/** The answers of GET /sync/status and GET /status: built by the admin routes, read by the CLI and the dashboard. */
import type { SyncError, SyncState, Uuid } from '../store/records.js';
import type { ConditionFields } from '../sync/failure-class.js';

/** A sync state with the name of the generator (repository) it belongs to, and its condition (stalled: needs a person). */
export type RepositoryState = SyncState & ConditionFields & { generator_name: string | null; orphaned?: boolean };

/** GET /sync/status */
export interface SyncStatus {
  ready: boolean;
  repositories: RepositoryState[];
  errors: SyncError[];
}

/** One agent of GET /status, with its delivery state. */
export interface StatusAgent {
  id: Uuid;
  name: string;
  cluster_name: string;
  status: string;
  last_heartbeat: string | null;
  /** Seconds since the last heartbeat, null if never. */
  heartbeat_age_seconds: number | null;
  /** Target-state objects without a SUCCESS event. */
  pending: number;
  /** Target-state objects whose last event is a FAILURE. */
  failed: number;
}

/** GET /status */
export interface StatusOverview {
  ready: boolean;
  repositories: RepositoryState[];
  /** `invalid` counts distinct stacks with recorded errors. */
  stacks: { total: number; invalid: number };
  errors: SyncError[];
  agents: StatusAgent[];
}
