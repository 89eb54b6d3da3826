/** Labels and annotations on PostgreSQL, written once for both owners (stacks and agents share the shape). */
import type { Annotation, Label, OwnerKind } from '../store.js';
import { NotFoundError } from '../store.js';
import { guarded } from './errors.js';
import { uuidParam, type Sql } from './pg-db.js';

interface OwnerTables {
  owner: 'stacks' | 'agents';
  labels: 'stack_labels' | 'agent_labels';
  annotations: 'stack_annotations' | 'agent_annotations';
  fk: 'stack_id' | 'agent_id';
}

// Table names come only from this constant map, never from input.
const TABLES: Record<OwnerKind, OwnerTables> = {
  stack: { owner: 'stacks', labels: 'stack_labels', annotations: 'stack_annotations', fk: 'stack_id' },
  agent: { owner: 'agents', labels: 'agent_labels', annotations: 'agent_annotations', fk: 'agent_id' },
};

/** Labels and annotations can only be changed on live owners. Call inside the writing transaction. */
async function requireLiveOwner(sql: Sql, kind: OwnerKind, ownerId: string): Promise<void> {
  const t = TABLES[kind];
  // FOR SHARE: a concurrent soft delete or hard delete of the owner waits for this transaction.
  const row = await sql.one(`SELECT 1 FROM ${t.owner} WHERE id = $1 AND deleted_at IS NULL FOR SHARE`, [uuidParam(ownerId)]);
  if (!row) throw new NotFoundError(`${kind} ${ownerId} not found`);
}

export async function listLabels(sql: Sql, kind: OwnerKind, ownerId: string): Promise<Label[]> {
  const t = TABLES[kind];
  return sql.rows<Label>(`SELECT id, ${t.fk} AS owner_id, label FROM ${t.labels} WHERE ${t.fk} = $1 ORDER BY label COLLATE "C"`, [uuidParam(ownerId)]);
}

export async function addLabel(sql: Sql, kind: OwnerKind, ownerId: string, label: string): Promise<Label> {
  const t = TABLES[kind];
  await requireLiveOwner(sql, kind, ownerId);
  return guarded(`label '${label}' on ${kind} ${ownerId}`, async () =>
    (await sql.one<Label>(`INSERT INTO ${t.labels} (${t.fk}, label) VALUES ($1, $2) RETURNING id, ${t.fk} AS owner_id, label`, [ownerId, label]))!,
  );
}

export async function removeLabel(sql: Sql, kind: OwnerKind, ownerId: string, label: string): Promise<boolean> {
  const t = TABLES[kind];
  return (await sql.run(`DELETE FROM ${t.labels} WHERE ${t.fk} = $1 AND label = $2`, [uuidParam(ownerId), label])) > 0;
}

export async function listAnnotations(sql: Sql, kind: OwnerKind, ownerId: string): Promise<Annotation[]> {
  const t = TABLES[kind];
  return sql.rows<Annotation>(`SELECT id, ${t.fk} AS owner_id, key, value FROM ${t.annotations} WHERE ${t.fk} = $1 ORDER BY key COLLATE "C"`, [
    uuidParam(ownerId),
  ]);
}

export async function setAnnotation(sql: Sql, kind: OwnerKind, ownerId: string, key: string, value: string): Promise<Annotation> {
  const t = TABLES[kind];
  await requireLiveOwner(sql, kind, ownerId);
  return (await sql.one<Annotation>(
    `INSERT INTO ${t.annotations} (${t.fk}, key, value) VALUES ($1, $2, $3)
     ON CONFLICT (${t.fk}, key) DO UPDATE SET value = excluded.value
     RETURNING id, ${t.fk} AS owner_id, key, value`,
    [ownerId, key, value],
  ))!;
}

export async function removeAnnotation(sql: Sql, kind: OwnerKind, ownerId: string, key: string): Promise<boolean> {
  const t = TABLES[kind];
  return (await sql.run(`DELETE FROM ${t.annotations} WHERE ${t.fk} = $1 AND key = $2`, [uuidParam(ownerId), key])) > 0;
}

/** Labels of many owners at once (one query), for list views; all owners when ownerIds is undefined. */
export async function labelsByOwner(sql: Sql, kind: OwnerKind, ownerIds?: readonly string[]): Promise<Map<string, string[]>> {
  const t = TABLES[kind];
  const rows = ownerIds
    ? await sql.rows<{ owner_id: string; label: string }>(
        `SELECT ${t.fk} AS owner_id, label FROM ${t.labels} WHERE ${t.fk} = ANY($1::uuid[]) ORDER BY label COLLATE "C"`,
        [ownerIds],
      )
    : await sql.rows<{ owner_id: string; label: string }>(`SELECT ${t.fk} AS owner_id, label FROM ${t.labels} ORDER BY label COLLATE "C"`);
  const out = new Map<string, string[]>();
  for (const r of rows) {
    const list = out.get(r.owner_id);
    if (list) list.push(r.label);
    else out.set(r.owner_id, [r.label]);
  }
  return out;
}

/** Annotations of many owners at once (one query), for list views. */
export async function annotationsByOwner(sql: Sql, kind: OwnerKind, ownerIds?: readonly string[]): Promise<Map<string, Record<string, string>>> {
  const t = TABLES[kind];
  type Row = { owner_id: string; key: string; value: string };
  const rows = ownerIds
    ? await sql.rows<Row>(`SELECT ${t.fk} AS owner_id, key, value FROM ${t.annotations} WHERE ${t.fk} = ANY($1::uuid[]) ORDER BY key COLLATE "C"`, [ownerIds])
    : await sql.rows<Row>(`SELECT ${t.fk} AS owner_id, key, value FROM ${t.annotations} ORDER BY key COLLATE "C"`);
  const out = new Map<string, Record<string, string>>();
  for (const r of rows) {
    let map = out.get(r.owner_id);
    if (!map) out.set(r.owner_id, (map = {}));
    map[r.key] = r.value;
  }
  return out;
}

/** An owner's labels and annotations as they are, for replaceTags. */
export interface CurrentTags {
  labels: ReadonlySet<string>;
  annotations: ReadonlyMap<string, string>;
}

/**
 * Make an owner's labels and annotations exactly these, touching only the rows that differ (row
 * ids of unchanged labels survive), given the `current` ones (read by the caller with whatever
 * else it reads). Returns whether anything changed. Call inside a transaction, the owner's
 * row locked, so `current` stays true. At most one statement per kind of change, whatever the
 * number of tags: each is a round trip of the sync.
 */
export async function replaceTags(
  sql: Sql,
  kind: OwnerKind,
  ownerId: string,
  labels: readonly string[],
  annotations: Readonly<Record<string, string>>,
  current: CurrentTags,
): Promise<boolean> {
  const t = TABLES[kind];
  const wanted = new Set(labels);
  const goneLabels = [...current.labels].filter((l) => !wanted.has(l));
  const newLabels = [...wanted].filter((l) => !current.labels.has(l));
  const goneKeys = [...current.annotations.keys()].filter((k) => !Object.hasOwn(annotations, k));
  const changedPairs = Object.entries(annotations).filter(([k, v]) => current.annotations.get(k) !== v);
  if (goneLabels.length > 0) await sql.run(`DELETE FROM ${t.labels} WHERE ${t.fk} = $1 AND label = ANY($2::text[])`, [ownerId, goneLabels]);
  if (newLabels.length > 0) await sql.run(`INSERT INTO ${t.labels} (${t.fk}, label) SELECT $1, unnest($2::text[])`, [ownerId, newLabels]);
  if (goneKeys.length > 0) await sql.run(`DELETE FROM ${t.annotations} WHERE ${t.fk} = $1 AND key = ANY($2::text[])`, [ownerId, goneKeys]);
  if (changedPairs.length > 0) {
    await sql.run(
      `INSERT INTO ${t.annotations} (${t.fk}, key, value) SELECT $1, u.key, u.value FROM unnest($2::text[], $3::text[]) AS u (key, value)
       ON CONFLICT (${t.fk}, key) DO UPDATE SET value = excluded.value`,
      [ownerId, changedPairs.map(([k]) => k), changedPairs.map(([, v]) => v)],
    );
  }
  return goneLabels.length + newLabels.length + goneKeys.length + changedPairs.length > 0;
}
