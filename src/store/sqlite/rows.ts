/** Column lists and row mappers: SQLite rows (booleans as 0/1) to the wire records of records.ts. */
import type { Agent, CommitInfo, DeploymentObject, Generator } from '../records.js';

// Column lists in the order of the record types, so JSON output reads like the data model.
export const STACK_COLUMNS = 'id, created_at, updated_at, deleted_at, name, description, generator_id';
export const AGENT_COLUMNS =
  'id, created_at, updated_at, deleted_at, name, cluster_name, last_heartbeat, status, pak_hash, k8s_reachable, k8s_api_latency_ms, k8s_reported_at';
export const OBJECT_COLUMNS =
  'id, created_at, updated_at, deleted_at, sequence_id, stack_id, yaml_content, yaml_checksum, submitted_at, is_deletion_marker, generator_id';
export const EVENT_COLUMNS = 'id, created_at, updated_at, deleted_at, agent_id, deployment_object_id, event_type, status, message';
export const GENERATOR_COLUMNS = 'id, created_at, updated_at, deleted_at, name, description, api_key_hash, last_active_at, is_active';

/** Prefix every column of a list with a table alias ("o.id, o.created_at, ..."). */
export function qualified(columns: string, alias: string): string {
  return columns
    .split(', ')
    .map((c) => `${alias}.${c}`)
    .join(', ');
}

export type ObjectRow = Omit<DeploymentObject, 'is_deletion_marker'> & { is_deletion_marker: number };
export type GeneratorRow = Omit<Generator, 'is_active'> & { is_active: number };
export type AgentRow = Omit<Agent, 'k8s_reachable'> & { k8s_reachable: number | null };

export function toObject(row: ObjectRow): DeploymentObject {
  return { ...row, is_deletion_marker: row.is_deletion_marker === 1 };
}

export function toGenerator(row: GeneratorRow): Generator {
  return { ...row, is_active: row.is_active === 1 };
}

export function toAgent(row: AgentRow): Agent {
  return { ...row, k8s_reachable: row.k8s_reachable === null ? null : row.k8s_reachable === 1 };
}

/** Provenance columns joined as c_sha, c_author_name... → CommitInfo (null when the object has none). */
export const COMMIT_JOIN_COLUMNS =
  'p.commit_sha AS c_sha, p.author_name AS c_author_name, p.author_email AS c_author_email, p.subject AS c_subject, p.committed_at AS c_committed_at';

export interface CommitColumns {
  c_sha: string | null;
  c_author_name: string | null;
  c_author_email: string | null;
  c_subject: string | null;
  c_committed_at: string | null;
}

/** Split the c_* columns off a joined row. */
export function takeCommit<T extends CommitColumns>(row: T): { rest: Omit<T, keyof CommitColumns>; commit: CommitInfo | null } {
  const { c_sha, c_author_name, c_author_email, c_subject, c_committed_at, ...rest } = row;
  const commit =
    c_sha === null
      ? null
      : { sha: c_sha, author_name: c_author_name ?? '', author_email: c_author_email ?? '', subject: c_subject ?? '', committed_at: c_committed_at ?? '' };
  return { rest, commit };
}

export function nowIso(): string {
  return new Date().toISOString();
}
