/** Shapes of the API answers the dashboard reads (a browser-side mirror of the wire format; field names = columns). */

export interface CommitInfo {
  sha: string;
  author_name: string;
  author_email: string;
  subject: string;
  committed_at: string;
}

export interface SyncError {
  generator_id: string;
  stack_path: string;
  stack_name: string | null;
  commit_sha: string;
  file: string | null;
  line: number | null;
  message: string;
  created_at: string;
}

export interface Repository {
  generator_id: string;
  generator_name?: string;
  repo: string;
  branch: string;
  root: string;
  cursor_commit: string | null;
  cursor_committed_at: string | null;
  last_sync_at: string | null;
  last_error: string | null;
}

export interface SyncStatus {
  ready: boolean;
  repositories: Repository[];
  errors: SyncError[];
}

export interface StatusAgent {
  id: string;
  name: string;
  cluster_name: string;
  status: string;
  last_heartbeat: string | null;
  heartbeat_age_seconds: number | null;
  pending: number;
  failed: number;
}

export interface Status {
  repositories: Repository[];
  stacks: { total: number; invalid: number };
  errors: SyncError[];
  agents: StatusAgent[];
}

export interface StackDetail {
  id: string;
  name: string;
  description: string | null;
  created_at: string;
  deleted_at: string | null;
  path: string | null;
  labels: string[];
  annotations: Record<string, string>;
  latest_object: { id: string; sequence_id: number; yaml_checksum: string; is_deletion_marker: boolean; submitted_at: string } | null;
  commit: CommitInfo | null;
}

export interface ObjectWithCommit {
  id: string;
  sequence_id: number;
  stack_id: string;
  yaml_content: string;
  yaml_checksum: string;
  submitted_at: string;
  deleted_at: string | null;
  is_deletion_marker: boolean;
  commit: CommitInfo | null;
}

export interface AgentOverview {
  id: string;
  name: string;
  cluster_name: string;
  status: string;
  last_heartbeat: string | null;
  heartbeat_age_seconds: number | null;
  stale: boolean;
  labels: string[];
  annotations: Record<string, string>;
  pending: number;
  failed: number;
}

export interface AgentsAnswer {
  now: string;
  stale_after_seconds: number;
  agents: AgentOverview[];
}

export const CELL_STATES = ['applied', 'failed', 'pending', 'deleting', 'deleted'] as const;
export type CellState = (typeof CELL_STATES)[number];

export interface MatrixCell {
  state: CellState;
  message?: string | null;
  at?: string;
}

export interface MatrixPage {
  version: number;
  computed_at: string;
  total: number;
  offset: number;
  limit: number;
  counts: Record<CellState, number>;
  agents: { id: string; name: string; cluster_name: string; status: string }[];
  rows: {
    stack: { id: string; name: string; deleted: boolean; sequence_id: number | null; is_deletion_marker: boolean };
    cells: (MatrixCell | null)[];
  }[];
}
