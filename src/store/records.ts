/** Row types of the brokkr data model, as stored and as sent on the wire (field names = column names). */

/** UTC ISO-8601 with milliseconds, e.g. 2026-11-27T23:31:16.123Z (same as Date#toISOString). */
export type Timestamp = string;
/** A UUID string (v4). */
export type Uuid = string;

export const AGENT_STATUSES = ['ACTIVE', 'INACTIVE'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export const EVENT_TYPES = ['DEPLOY', 'DELETE'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EVENT_STATUSES = ['SUCCESS', 'FAILURE'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** The bookkeeping columns every brokkr entity table starts with. */
export interface EntityColumns {
  id: Uuid;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: Timestamp | null;
}

export interface Stack extends EntityColumns {
  name: string;
  description: string | null;
  generator_id: Uuid;
}

export interface Agent extends EntityColumns {
  name: string;
  cluster_name: string;
  last_heartbeat: Timestamp | null;
  status: string;
  pak_hash: string;
  /** brokkr's heartbeat report: the agent's own view of its Kubernetes API (null until reported). */
  k8s_reachable: boolean | null;
  k8s_api_latency_ms: number | null;
  k8s_reported_at: Timestamp | null;
}

export interface DeploymentObject extends EntityColumns {
  sequence_id: number;
  stack_id: Uuid;
  yaml_content: string;
  yaml_checksum: string;
  submitted_at: Timestamp;
  is_deletion_marker: boolean;
  generator_id: Uuid;
}

export interface AgentEvent extends EntityColumns {
  agent_id: Uuid;
  deployment_object_id: Uuid;
  event_type: string;
  status: string;
  message: string | null;
}

export interface AgentTarget {
  id: Uuid;
  agent_id: Uuid;
  stack_id: Uuid;
}

export interface StackLabel {
  id: Uuid;
  stack_id: Uuid;
  label: string;
}

export interface StackAnnotation {
  id: Uuid;
  stack_id: Uuid;
  key: string;
  value: string;
}

export interface AgentLabel {
  id: Uuid;
  agent_id: Uuid;
  label: string;
}

export interface AgentAnnotation {
  id: Uuid;
  agent_id: Uuid;
  key: string;
  value: string;
}

export interface Generator extends EntityColumns {
  name: string;
  description: string | null;
  api_key_hash: string | null;
  last_active_at: Timestamp | null;
  is_active: boolean;
}

/** The commit a deployment object came from (product table `object_provenance`). */
export interface CommitInfo {
  sha: string;
  author_name: string;
  author_email: string;
  subject: string;
  committed_at: Timestamp;
}

/** A recorded problem with one stack at one commit (product table `sync_errors`). */
export interface SyncError {
  generator_id: Uuid;
  /** Stack directory relative to the sync root ('' for the root itself). */
  stack_path: string;
  /** The stack's name when it could be determined. */
  stack_name: string | null;
  commit_sha: string;
  /** File relative to the repository root, when the error is about one file. */
  file: string | null;
  line: number | null;
  message: string;
  created_at: Timestamp;
}

/** Sync cursor and bookkeeping for one repository (product table `sync_state`). */
export interface SyncState {
  generator_id: Uuid;
  repo: string;
  branch: string;
  root: string;
  cursor_commit: string | null;
  cursor_committed_at: Timestamp | null;
  last_sync_at: Timestamp | null;
  /** Set when the last attempt could not sync at all (git unreachable...); cleared on success. */
  last_error: string | null;
}

export const HEALTH_STATUSES = ['healthy', 'degraded', 'failing', 'unknown'] as const;
/** brokkr's deployment health: what an agent last saw of an object it applied. */
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

/** One agent's latest health report on one deployment object (product table `deployment_health`, brokkr's shape). */
export interface DeploymentHealth {
  id: Uuid;
  agent_id: Uuid;
  deployment_object_id: Uuid;
  status: HealthStatus;
  /** Free text (the reference agent's first line of output) or brokkr's JSON-encoded summary. */
  summary: string | null;
  checked_at: Timestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}
