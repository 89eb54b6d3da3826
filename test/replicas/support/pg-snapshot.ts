/**
 * What a PostgreSQL database holds, independent of random ids and timestamps — the PostgreSQL
 * twin of test/reliability/support/db-snapshot.ts (same DbSnapshot shape): comparing two of these
 * compares two sync histories.
 */
import pg from 'pg';
import type { DbSnapshot } from '../../reliability/support/db-snapshot.js';

export type { DbSnapshot };

export async function snapshotPg(url: string): Promise<DbSnapshot> {
  const db = new pg.Client({ connectionString: url, application_name: 'brokkr-test-snapshot' });
  await db.connect();
  const rows = async <R extends pg.QueryResultRow>(text: string, params: unknown[] = []) => (await db.query<R>(text, params)).rows;
  try {
    // Read everything in one snapshot of the database (a replica may still be running).
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const stackRows = await rows<{ id: string; name: string; path: string | null; description: string | null; deleted: boolean; first_seq: string | null }>(
      `SELECT s.id, s.name, s.path, s.description, s.deleted_at IS NOT NULL AS deleted,
              (SELECT min(sequence_id) FROM deployment_objects o WHERE o.stack_id = s.id) AS first_seq
         FROM stacks s`,
    );
    const labels = await rows<{ stack_id: string; label: string }>('SELECT stack_id, label FROM stack_labels ORDER BY label');
    const annotations = await rows<{ stack_id: string; kv: string }>("SELECT stack_id, key || '=' || value AS kv FROM stack_annotations ORDER BY key");
    const objects = await rows<{ stack_id: string; yaml_checksum: string; is_deletion_marker: boolean; deleted: boolean; subject: string | null }>(
      `SELECT o.stack_id, o.yaml_checksum, o.is_deletion_marker, o.deleted_at IS NOT NULL AS deleted, p.subject
         FROM deployment_objects o LEFT JOIN object_provenance p ON p.deployment_object_id = o.id
        ORDER BY o.sequence_id`,
    );
    const group = <T extends { stack_id: string }>(list: T[]) => {
      const by = new Map<string, T[]>();
      for (const item of list) by.set(item.stack_id, [...(by.get(item.stack_id) ?? []), item]);
      return by;
    };
    const labelsBy = group(labels);
    const annotationsBy = group(annotations);
    const objectsBy = group(objects);
    const firstSeq = (s: { first_seq: string | null }) => (s.first_seq === null ? Infinity : Number(s.first_seq));
    const stacks = stackRows
      // JS string order, as the SQLite twin sorts (PostgreSQL's collation may differ).
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : firstSeq(a) - firstSeq(b)))
      .map((s) => ({
        name: s.name,
        path: s.path,
        description: s.description,
        deleted: s.deleted,
        labels: (labelsBy.get(s.id) ?? []).map((r) => r.label).sort(),
        annotations: (annotationsBy.get(s.id) ?? []).map((r) => r.kv).sort(),
        objects: (objectsBy.get(s.id) ?? []).map(
          (o) => `${o.yaml_checksum}${o.is_deletion_marker ? ' marker' : ''}${o.deleted ? ' deleted' : ''} @${o.subject ?? '?'}`,
        ),
      }));
    const order = (
      await rows<{ name: string; yaml_checksum: string; is_deletion_marker: boolean }>(
        'SELECT s.name, o.yaml_checksum, o.is_deletion_marker FROM deployment_objects o JOIN stacks s ON s.id = o.stack_id ORDER BY o.sequence_id',
      )
    ).map((o) => `${o.name} / ${o.yaml_checksum}${o.is_deletion_marker ? ' / marker' : ''}`);
    const state = await rows<{ cursor_commit: string | null; last_error: string | null }>('SELECT cursor_commit, last_error FROM sync_state');
    const syncErrors = (await rows<Record<string, unknown>>('SELECT stack_path, stack_name, commit_sha, file, line, message FROM sync_errors'))
      .map((e) => `${String(e.stack_path)} (${String(e.stack_name)}) ${String(e.file)}:${String(e.line)} @${String(e.commit_sha).slice(0, 7)}: ${String(e.message)}`)
      .sort();
    const counts: Record<string, number> = {};
    for (const table of ['generators', 'stacks', 'deployment_objects', 'object_provenance', 'stack_labels', 'stack_annotations', 'sync_state', 'sync_errors']) {
      counts[table] = Number((await rows<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
    }
    await db.query('COMMIT');
    return { stacks, order, cursor: state[0]?.cursor_commit ?? null, lastError: state[0]?.last_error ?? null, syncErrors, counts };
  } finally {
    await db.end();
  }
}

/** Duplicates the comparison would also catch, said plainly: an object applied twice shows up here first. */
export async function duplicateObjects(url: string): Promise<string[]> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const res = await db.query<{ commit_sha: string; stack_id: string; n: string }>(
      `SELECT p.commit_sha, o.stack_id, count(*) AS n
         FROM deployment_objects o JOIN object_provenance p ON p.deployment_object_id = o.id
        GROUP BY p.commit_sha, o.stack_id HAVING count(*) > 1`,
    );
    return res.rows.map((r) => `${r.commit_sha.slice(0, 7)} stack ${r.stack_id}: ${r.n} objects`);
  } finally {
    await db.end();
  }
}
