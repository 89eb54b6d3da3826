/** Admin views of stacks (with path, tags, latest object and its commit) and of deployment objects, on PostgreSQL. */
import type { DeploymentObject } from '../records.js';
import type { ObjectWithCommit, StackDetail } from '../store.js';
import { COMMIT_JOIN_COLUMNS, type CommitColumns, OBJECT_COLUMNS, STACK_COLUMNS, qualified, takeCommit } from '../sqlite/rows.js';
import { annotationsByOwner, labelsByOwner } from './owner-tags.js';
import { uuidParam, type Sql } from './pg-db.js';

type StackDetailRow = Omit<StackDetail, 'labels' | 'annotations' | 'latest_object' | 'commit'> &
  CommitColumns & {
    o_id: string | null;
    o_sequence_id: number | null;
    o_yaml_checksum: string | null;
    o_is_deletion_marker: boolean | null;
    o_submitted_at: string | null;
  };

// Latest object as the agents see it: newest live object, or the marker of a deleted stack.
const STACK_DETAIL_SQL = `SELECT ${qualified(STACK_COLUMNS, 's')}, s.path,
    o.id AS o_id, o.sequence_id AS o_sequence_id, o.yaml_checksum AS o_yaml_checksum,
    o.is_deletion_marker AS o_is_deletion_marker, o.submitted_at AS o_submitted_at, ${COMMIT_JOIN_COLUMNS}
  FROM stacks s
  LEFT JOIN LATERAL (
    SELECT d.id, d.sequence_id, d.yaml_checksum, d.is_deletion_marker, d.submitted_at FROM deployment_objects d
     WHERE d.stack_id = s.id AND (d.deleted_at IS NULL OR d.is_deletion_marker)
     ORDER BY d.sequence_id DESC LIMIT 1) o ON TRUE
  LEFT JOIN object_provenance p ON p.deployment_object_id = o.id`;

async function toDetails(sql: Sql, rows: StackDetailRow[]): Promise<StackDetail[]> {
  const ids = rows.length > 200 ? undefined : rows.map((r) => r.id); // many stacks: one full scan beats a long id list
  const labels = await labelsByOwner(sql, 'stack', ids);
  const annotations = await annotationsByOwner(sql, 'stack', ids);
  return rows.map((row) => {
    const { rest, commit } = takeCommit(row);
    const { o_id, o_sequence_id, o_yaml_checksum, o_is_deletion_marker, o_submitted_at, ...stack } = rest;
    return {
      ...stack,
      labels: labels.get(stack.id) ?? [],
      annotations: annotations.get(stack.id) ?? {},
      latest_object:
        o_id === null
          ? null
          : { id: o_id, sequence_id: o_sequence_id!, yaml_checksum: o_yaml_checksum!, is_deletion_marker: o_is_deletion_marker === true, submitted_at: o_submitted_at! },
      commit,
    };
  });
}

export async function listStacks(sql: Sql, opts: { includeDeleted?: boolean } = {}): Promise<StackDetail[]> {
  const rows = await sql.rows<StackDetailRow>(`${STACK_DETAIL_SQL} WHERE ($1 OR s.deleted_at IS NULL) ORDER BY s.name COLLATE "C", s.created_at`, [
    opts.includeDeleted === true,
  ]);
  return toDetails(sql, rows);
}

export async function getStack(sql: Sql, id: string): Promise<StackDetail | null> {
  const row = await sql.one<StackDetailRow>(`${STACK_DETAIL_SQL} WHERE s.id = $1`, [uuidParam(id)]);
  return row ? (await toDetails(sql, [row]))[0]! : null;
}

const OBJECT_WITH_COMMIT_SQL = `SELECT ${qualified(OBJECT_COLUMNS, 'o')}, ${COMMIT_JOIN_COLUMNS}
  FROM deployment_objects o LEFT JOIN object_provenance p ON p.deployment_object_id = o.id`;

function toObjectWithCommit(row: DeploymentObject & CommitColumns): ObjectWithCommit {
  const { rest, commit } = takeCommit(row);
  return { ...rest, commit };
}

export async function listObjects(sql: Sql, stackId: string, opts: { limit?: number } = {}): Promise<ObjectWithCommit[]> {
  const rows = await sql.rows<DeploymentObject & CommitColumns>(`${OBJECT_WITH_COMMIT_SQL} WHERE o.stack_id = $1 ORDER BY o.sequence_id DESC LIMIT $2`, [
    uuidParam(stackId),
    opts.limit ?? null,
  ]);
  return rows.map(toObjectWithCommit);
}

export async function getObject(sql: Sql, id: string): Promise<ObjectWithCommit | null> {
  const row = await sql.one<DeploymentObject & CommitColumns>(`${OBJECT_WITH_COMMIT_SQL} WHERE o.id = $1`, [uuidParam(id)]);
  return row ? toObjectWithCommit(row) : null;
}

/** Objects by id, in the order asked (unknown ids are skipped). */
export async function getObjects(sql: Sql, ids: readonly string[]): Promise<DeploymentObject[]> {
  const valid = ids.map(uuidParam).filter((id): id is string => id !== null);
  if (valid.length === 0) return [];
  const rows = await sql.rows<DeploymentObject>(`SELECT ${OBJECT_COLUMNS} FROM deployment_objects WHERE id = ANY($1::uuid[])`, [valid]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}
