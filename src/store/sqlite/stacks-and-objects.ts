/** Admin views of stacks (with path, tags, latest object and its commit) and of deployment objects. */
import type { DeploymentObject } from '../records.js';
import type { ObjectWithCommit, StackDetail } from '../store.js';
import type { SqliteDb } from './connection.js';
import { annotationsByOwner, labelsByOwner } from './owner-tags.js';
import {
  COMMIT_JOIN_COLUMNS,
  type CommitColumns,
  OBJECT_COLUMNS,
  type ObjectRow,
  STACK_COLUMNS,
  qualified,
  takeCommit,
  toObject,
} from './rows.js';

type StackDetailRow = Omit<StackDetail, 'labels' | 'annotations' | 'latest_object' | 'commit'> &
  CommitColumns & {
    o_id: string | null;
    o_sequence_id: number | null;
    o_yaml_checksum: string | null;
    o_is_deletion_marker: number | null;
    o_submitted_at: string | null;
  };

// Latest object as the agents see it: newest live object, or the marker of a deleted stack.
const STACK_DETAIL_SQL = `SELECT ${qualified(STACK_COLUMNS, 's')}, s.path,
    o.id AS o_id, o.sequence_id AS o_sequence_id, o.yaml_checksum AS o_yaml_checksum,
    o.is_deletion_marker AS o_is_deletion_marker, o.submitted_at AS o_submitted_at, ${COMMIT_JOIN_COLUMNS}
  FROM stacks s
  LEFT JOIN deployment_objects o ON o.sequence_id = (
    SELECT d.sequence_id FROM deployment_objects d
     WHERE d.stack_id = s.id AND (d.deleted_at IS NULL OR d.is_deletion_marker = 1)
     ORDER BY d.sequence_id DESC LIMIT 1)
  LEFT JOIN object_provenance p ON p.deployment_object_id = o.id`;

function toDetails(db: SqliteDb, rows: StackDetailRow[]): StackDetail[] {
  const ids = rows.length > 200 ? undefined : rows.map((r) => r.id); // many stacks: one full scan beats a long IN list
  const labels = labelsByOwner(db, 'stack', ids);
  const annotations = annotationsByOwner(db, 'stack', ids);
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
          : {
              id: o_id,
              sequence_id: o_sequence_id!,
              yaml_checksum: o_yaml_checksum!,
              is_deletion_marker: o_is_deletion_marker === 1,
              submitted_at: o_submitted_at!,
            },
      commit,
    };
  });
}

export function listStacks(db: SqliteDb, opts: { includeDeleted?: boolean } = {}): StackDetail[] {
  const rows = db
    .stmt<StackDetailRow>(`${STACK_DETAIL_SQL} WHERE (@all = 1 OR s.deleted_at IS NULL) ORDER BY s.name, s.created_at`)
    .all({ all: opts.includeDeleted ? 1 : 0 });
  return toDetails(db, rows);
}

export function getStack(db: SqliteDb, id: string): StackDetail | null {
  const row = db.stmt<StackDetailRow>(`${STACK_DETAIL_SQL} WHERE s.id = ?`).get(id);
  return row ? toDetails(db, [row])[0]! : null;
}

const OBJECT_WITH_COMMIT_SQL = `SELECT ${qualified(OBJECT_COLUMNS, 'o')}, ${COMMIT_JOIN_COLUMNS}
  FROM deployment_objects o LEFT JOIN object_provenance p ON p.deployment_object_id = o.id`;

function toObjectWithCommit(row: ObjectRow & CommitColumns): ObjectWithCommit {
  const { rest, commit } = takeCommit(row);
  return { ...toObject(rest as ObjectRow), commit };
}

export function listObjects(db: SqliteDb, stackId: string, opts: { limit?: number } = {}): ObjectWithCommit[] {
  return db
    .stmt<ObjectRow & CommitColumns>(`${OBJECT_WITH_COMMIT_SQL} WHERE o.stack_id = ? ORDER BY o.sequence_id DESC LIMIT ?`)
    .all(stackId, opts.limit ?? -1)
    .map(toObjectWithCommit);
}

export function getObject(db: SqliteDb, id: string): ObjectWithCommit | null {
  const row = db.stmt<ObjectRow & CommitColumns>(`${OBJECT_WITH_COMMIT_SQL} WHERE o.id = ?`).get(id);
  return row ? toObjectWithCommit(row) : null;
}

/** Objects by id, in the order asked (unknown ids are skipped). */
export function getObjects(db: SqliteDb, ids: readonly string[]): DeploymentObject[] {
  if (ids.length === 0) return [];
  const rows = db
    .stmt<ObjectRow>(`SELECT ${OBJECT_COLUMNS} FROM deployment_objects WHERE id IN (SELECT value FROM json_each(?))`)
    .all(JSON.stringify(ids));
  const byId = new Map(rows.map((r) => [r.id, toObject(r)]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}
