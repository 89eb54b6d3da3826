/** Labels and annotations, written once for both owners (stacks and agents share the shape). */
import type { Annotation, Label, OwnerKind } from '../store.js';
import { NotFoundError } from '../store.js';
import type { SqliteDb } from './connection.js';
import { guarded } from './errors.js';

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

/** Labels and annotations can only be changed on live owners. */
function requireLiveOwner(db: SqliteDb, kind: OwnerKind, ownerId: string): void {
  const t = TABLES[kind];
  const row = db.stmt(`SELECT 1 FROM ${t.owner} WHERE id = ? AND deleted_at IS NULL`).get(ownerId);
  if (!row) throw new NotFoundError(`${kind} ${ownerId} not found`);
}

export function listLabels(db: SqliteDb, kind: OwnerKind, ownerId: string): Label[] {
  const t = TABLES[kind];
  return db.stmt<Label>(`SELECT id, ${t.fk} AS owner_id, label FROM ${t.labels} WHERE ${t.fk} = ? ORDER BY label`).all(ownerId);
}

export function addLabel(db: SqliteDb, kind: OwnerKind, ownerId: string, label: string): Label {
  const t = TABLES[kind];
  return db.tx(() => {
    requireLiveOwner(db, kind, ownerId);
    return guarded(`label '${label}' on ${kind} ${ownerId}`, () =>
      db.stmt<Label>(`INSERT INTO ${t.labels} (${t.fk}, label) VALUES (?, ?) RETURNING id, ${t.fk} AS owner_id, label`).get(ownerId, label)!,
    );
  });
}

export function removeLabel(db: SqliteDb, kind: OwnerKind, ownerId: string, label: string): boolean {
  const t = TABLES[kind];
  return db.stmt(`DELETE FROM ${t.labels} WHERE ${t.fk} = ? AND label = ?`).run(ownerId, label).changes > 0;
}

export function listAnnotations(db: SqliteDb, kind: OwnerKind, ownerId: string): Annotation[] {
  const t = TABLES[kind];
  return db
    .stmt<Annotation>(`SELECT id, ${t.fk} AS owner_id, key, value FROM ${t.annotations} WHERE ${t.fk} = ? ORDER BY key`)
    .all(ownerId);
}

export function setAnnotation(db: SqliteDb, kind: OwnerKind, ownerId: string, key: string, value: string): Annotation {
  const t = TABLES[kind];
  return db.tx(() => {
    requireLiveOwner(db, kind, ownerId);
    return db
      .stmt<Annotation>(
        `INSERT INTO ${t.annotations} (${t.fk}, key, value) VALUES (?, ?, ?)
         ON CONFLICT (${t.fk}, key) DO UPDATE SET value = excluded.value
         RETURNING id, ${t.fk} AS owner_id, key, value`,
      )
      .get(ownerId, key, value)!;
  });
}

export function removeAnnotation(db: SqliteDb, kind: OwnerKind, ownerId: string, key: string): boolean {
  const t = TABLES[kind];
  return db.stmt(`DELETE FROM ${t.annotations} WHERE ${t.fk} = ? AND key = ?`).run(ownerId, key).changes > 0;
}

/** Labels of many owners at once (one query), for list views. */
export function labelsByOwner(db: SqliteDb, kind: OwnerKind, ownerIds?: readonly string[]): Map<string, string[]> {
  const t = TABLES[kind];
  const rows = ownerIds
    ? db
        .stmt<{ owner_id: string; label: string }>(
          `SELECT ${t.fk} AS owner_id, label FROM ${t.labels} WHERE ${t.fk} IN (SELECT value FROM json_each(?)) ORDER BY label`,
        )
        .all(JSON.stringify(ownerIds))
    : db.stmt<{ owner_id: string; label: string }>(`SELECT ${t.fk} AS owner_id, label FROM ${t.labels} ORDER BY label`).all();
  const out = new Map<string, string[]>();
  for (const r of rows) {
    const list = out.get(r.owner_id);
    if (list) list.push(r.label);
    else out.set(r.owner_id, [r.label]);
  }
  return out;
}

/** Annotations of many owners at once (one query), for list views. */
export function annotationsByOwner(db: SqliteDb, kind: OwnerKind, ownerIds?: readonly string[]): Map<string, Record<string, string>> {
  const t = TABLES[kind];
  type Row = { owner_id: string; key: string; value: string };
  const rows = ownerIds
    ? db
        .stmt<Row>(
          `SELECT ${t.fk} AS owner_id, key, value FROM ${t.annotations} WHERE ${t.fk} IN (SELECT value FROM json_each(?)) ORDER BY key`,
        )
        .all(JSON.stringify(ownerIds))
    : db.stmt<Row>(`SELECT ${t.fk} AS owner_id, key, value FROM ${t.annotations} ORDER BY key`).all();
  const out = new Map<string, Record<string, string>>();
  for (const r of rows) {
    let map = out.get(r.owner_id);
    if (!map) out.set(r.owner_id, (map = {}));
    map[r.key] = r.value;
  }
  return out;
}

/**
 * Make an owner's labels and annotations exactly these, touching only the rows that differ
 * (row ids of unchanged labels survive). Returns whether anything changed. Call inside a transaction.
 */
export function replaceTags(
  db: SqliteDb,
  kind: OwnerKind,
  ownerId: string,
  labels: readonly string[],
  annotations: Readonly<Record<string, string>>,
): boolean {
  const t = TABLES[kind];
  let changed = false;
  const currentLabels = new Set(listLabels(db, kind, ownerId).map((l) => l.label));
  const wantedLabels = new Set(labels);
  for (const label of currentLabels) {
    if (!wantedLabels.has(label)) changed = removeLabel(db, kind, ownerId, label) || changed;
  }
  for (const label of wantedLabels) {
    if (!currentLabels.has(label)) {
      db.stmt(`INSERT INTO ${t.labels} (${t.fk}, label) VALUES (?, ?)`).run(ownerId, label);
      changed = true;
    }
  }
  const current = new Map(listAnnotations(db, kind, ownerId).map((a) => [a.key, a.value]));
  for (const key of current.keys()) {
    if (!(key in annotations)) changed = removeAnnotation(db, kind, ownerId, key) || changed;
  }
  for (const [key, value] of Object.entries(annotations)) {
    if (current.get(key) !== value) {
      db.stmt(
        `INSERT INTO ${t.annotations} (${t.fk}, key, value) VALUES (?, ?, ?) ON CONFLICT (${t.fk}, key) DO UPDATE SET value = excluded.value`,
      ).run(ownerId, key, value);
      changed = true;
    }
  }
  return changed;
}
