/**
 * What a database file holds, independent of random ids and timestamps, read through a plain
 * read-only connection: comparing two of these compares two sync histories.
 */
import Database from 'better-sqlite3';

export interface DbSnapshot {
  /** Every stack row (deleted ones too), in creation order per name. */
  stacks: {
    name: string;
    path: string | null;
    description: string | null;
    deleted: boolean;
    labels: string[];
    annotations: string[];
    /** Its objects in sequence order: checksum, marker, deleted, the commit it came from. */
    objects: string[];
  }[];
  /** Every object of the file in sequence order as `stack name / checksum / marker`. */
  order: string[];
  cursor: string | null;
  lastError: string | null;
  syncErrors: string[];
  counts: Record<string, number>;
}

export interface DbHealth {
  integrity: string[];
  foreignKeyViolations: number;
}

function open(path: string): Database.Database {
  return new Database(path, { readonly: true, fileMustExist: true });
}

export function snapshotDb(path: string): DbSnapshot {
  const db = open(path);
  try {
    const stackRows = db
      .prepare(
        `SELECT s.id, s.name, s.path, s.description, s.deleted_at IS NOT NULL AS deleted,
                (SELECT min(sequence_id) FROM deployment_objects o WHERE o.stack_id = s.id) AS first_seq
           FROM stacks s`,
      )
      .all() as { id: string; name: string; path: string | null; description: string | null; deleted: number; first_seq: number | null }[];
    const labels = db.prepare('SELECT label FROM stack_labels WHERE stack_id = ? ORDER BY label');
    const annotations = db.prepare("SELECT key || '=' || value AS kv FROM stack_annotations WHERE stack_id = ? ORDER BY key");
    const objects = db.prepare(
      `SELECT o.yaml_checksum, o.is_deletion_marker, o.deleted_at IS NOT NULL AS deleted, p.subject
         FROM deployment_objects o LEFT JOIN object_provenance p ON p.deployment_object_id = o.id
        WHERE o.stack_id = ? ORDER BY o.sequence_id`,
    );
    const stacks = stackRows
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : (a.first_seq ?? Infinity) - (b.first_seq ?? Infinity)))
      .map((s) => ({
        name: s.name,
        path: s.path,
        description: s.description,
        deleted: s.deleted === 1,
        labels: (labels.all(s.id) as { label: string }[]).map((r) => r.label),
        annotations: (annotations.all(s.id) as { kv: string }[]).map((r) => r.kv),
        objects: (objects.all(s.id) as { yaml_checksum: string; is_deletion_marker: number; deleted: number; subject: string | null }[]).map(
          (o) => `${o.yaml_checksum}${o.is_deletion_marker ? ' marker' : ''}${o.deleted ? ' deleted' : ''} @${o.subject ?? '?'}`,
        ),
      }));
    const order = (
      db
        .prepare(
          `SELECT s.name, o.yaml_checksum, o.is_deletion_marker FROM deployment_objects o JOIN stacks s ON s.id = o.stack_id ORDER BY o.sequence_id`,
        )
        .all() as { name: string; yaml_checksum: string; is_deletion_marker: number }[]
    ).map((o) => `${o.name} / ${o.yaml_checksum}${o.is_deletion_marker ? ' / marker' : ''}`);
    const state = db.prepare('SELECT cursor_commit, last_error FROM sync_state').all() as { cursor_commit: string | null; last_error: string | null }[];
    const syncErrors = (
      db.prepare('SELECT stack_path, stack_name, commit_sha, file, line, message FROM sync_errors').all() as Record<string, unknown>[]
    )
      .map((e) => `${String(e.stack_path)} (${String(e.stack_name)}) ${String(e.file)}:${String(e.line)} @${String(e.commit_sha).slice(0, 7)}: ${String(e.message)}`)
      .sort();
    const counts: Record<string, number> = {};
    for (const table of ['generators', 'stacks', 'deployment_objects', 'object_provenance', 'stack_labels', 'stack_annotations', 'sync_state', 'sync_errors']) {
      counts[table] = (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    }
    return {
      stacks,
      order,
      cursor: state[0]?.cursor_commit ?? null,
      lastError: state[0]?.last_error ?? null,
      syncErrors,
      counts,
    };
  } finally {
    db.close();
  }
}

/** PRAGMA integrity_check lines ("ok" when sound) and the number of foreign key violations. */
export function dbHealth(path: string): DbHealth {
  const db = open(path);
  try {
    const integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
    const foreignKeyViolations = (db.pragma('foreign_key_check') as unknown[]).length;
    return { integrity, foreignKeyViolations };
  } finally {
    db.close();
  }
}

/** The cursor only (cheap, for polling a database another process writes). */
export function readCursor(path: string): string | null {
  let db: Database.Database;
  try {
    db = open(path);
  } catch {
    return null; // not created yet
  }
  try {
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sync_state'").get();
    if (!has) return null;
    const row = db.prepare('SELECT cursor_commit FROM sync_state').get() as { cursor_commit: string | null } | undefined;
    return row?.cursor_commit ?? null;
  } finally {
    db.close();
  }
}
