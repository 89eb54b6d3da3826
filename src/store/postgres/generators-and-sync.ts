/** Generators (one per synced repository), their sync cursor and state, recorded sync errors, and the stacks a sync compares against, on PostgreSQL. */
import type { Generator, SyncError, SyncState } from '../records.js';
import { NotFoundError, type NameHolder, type SyncedStack } from '../store.js';
import { GENERATOR_COLUMNS } from '../sqlite/rows.js';
import { annotationsByOwner, labelsByOwner } from './owner-tags.js';
import { uuidParam, type Sql } from './pg-db.js';
import { rolloutColumns } from '../rollout-rules.js';

export const SYNC_STATE_COLUMNS = 'generator_id, repo, branch, root, cursor_commit, cursor_committed_at, last_sync_at, last_error';
const SYNC_ERROR_COLUMNS = 'generator_id, stack_path, stack_name, commit_sha, file, line, message, created_at';

/** Replicas may ensure the same generator at once: ON CONFLICT on the live-name index lets one insert and the rest read it. */
export async function ensureGenerator(sql: Sql, name: string, description: string | null): Promise<Generator> {
  const inserted = await sql.one<Generator>(
    `INSERT INTO generators (name, description) VALUES ($1, $2)
     ON CONFLICT (name) WHERE deleted_at IS NULL DO NOTHING RETURNING ${GENERATOR_COLUMNS}`,
    [name, description],
  );
  if (inserted) return inserted;
  return (await sql.one<Generator>(`SELECT ${GENERATOR_COLUMNS} FROM generators WHERE name = $1 AND deleted_at IS NULL`, [name]))!;
}

export async function listGenerators(sql: Sql): Promise<Generator[]> {
  return sql.rows<Generator>(`SELECT ${GENERATOR_COLUMNS} FROM generators WHERE deleted_at IS NULL ORDER BY created_at, name COLLATE "C"`);
}

export async function getSyncState(sql: Sql, generatorId: string): Promise<SyncState | null> {
  const row = await sql.one<SyncState>(`SELECT ${SYNC_STATE_COLUMNS} FROM sync_state WHERE generator_id = $1`, [uuidParam(generatorId)]);
  return row ?? null;
}

export async function listSyncStates(sql: Sql): Promise<SyncState[]> {
  return sql.rows<SyncState>(
    `SELECT ${SYNC_STATE_COLUMNS} FROM sync_state s WHERE EXISTS
       (SELECT 1 FROM generators g WHERE g.id = s.generator_id AND g.deleted_at IS NULL) ORDER BY repo COLLATE "C"`,
  );
}

export async function saveSyncTarget(sql: Sql, generatorId: string, target: { repo: string; branch: string; root: string }): Promise<SyncState> {
  if (!(await sql.one('SELECT 1 FROM generators WHERE id = $1 AND deleted_at IS NULL FOR SHARE', [uuidParam(generatorId)]))) {
    throw new NotFoundError(`generator ${generatorId} not found`);
  }
  return (await sql.one<SyncState>(
    `INSERT INTO sync_state (generator_id, repo, branch, root) VALUES ($1, $2, $3, $4)
     ON CONFLICT (generator_id) DO UPDATE SET repo = excluded.repo, branch = excluded.branch, root = excluded.root
     RETURNING ${SYNC_STATE_COLUMNS}`,
    [generatorId, target.repo, target.branch, target.root],
  ))!;
}

/**
 * A failure can happen before the first saveSyncTarget (the very first fetch fails): the error is
 * still recorded, on a placeholder row named after the generator, so status shows it. Call inside a transaction.
 */
export async function setSyncFailure(sql: Sql, generatorId: string, message: string | null): Promise<void> {
  const changes = await sql.run('UPDATE sync_state SET last_error = $2 WHERE generator_id = $1', [uuidParam(generatorId), message]);
  if (changes > 0 || message === null) return;
  const generator = await sql.one<{ name: string }>('SELECT name FROM generators WHERE id = $1 AND deleted_at IS NULL FOR SHARE', [
    uuidParam(generatorId),
  ]);
  if (!generator) throw new NotFoundError(`generator ${generatorId} not found`);
  await sql.run(
    `INSERT INTO sync_state (generator_id, repo, branch, last_error) VALUES ($1, $2, '', $3)
     ON CONFLICT (generator_id) DO UPDATE SET last_error = excluded.last_error`,
    [generatorId, generator.name, message],
  );
}

export async function listSyncErrors(sql: Sql, generatorId?: string): Promise<SyncError[]> {
  return generatorId !== undefined
    ? sql.rows<SyncError>(`SELECT ${SYNC_ERROR_COLUMNS} FROM sync_errors WHERE generator_id = $1 ORDER BY stack_path COLLATE "C", id`, [
        uuidParam(generatorId),
      ])
    : sql.rows<SyncError>(`SELECT ${SYNC_ERROR_COLUMNS} FROM sync_errors ORDER BY generator_id, stack_path COLLATE "C", id`);
}

/** Live stacks of one generator with their tags and latest content checksum (markers and deleted objects skipped). */
export async function listSyncedStacks(sql: Sql, generatorId: string): Promise<SyncedStack[]> {
  type Row = { id: string; name: string; path: string | null; description: string | null; latest_checksum: string | null; waves: string | null; gate: string | null; depends_on: string | null };
  const rows = await sql.rows<Row>(
    `SELECT s.id, s.name, s.path, s.description,
       (SELECT o.yaml_checksum FROM deployment_objects o
         WHERE o.stack_id = s.id AND o.deleted_at IS NULL AND NOT o.is_deletion_marker
         ORDER BY o.sequence_id DESC LIMIT 1) AS latest_checksum,
       r.waves, r.gate, r.depends_on
     FROM stacks s LEFT JOIN stack_rollouts r ON r.stack_id = s.id WHERE s.generator_id = $1 AND s.deleted_at IS NULL ORDER BY s.path COLLATE "C" NULLS FIRST, s.name COLLATE "C"`,
    [uuidParam(generatorId)],
  );
  const ids = rows.map((r) => r.id);
  const labels = await labelsByOwner(sql, 'stack', ids);
  const annotations = await annotationsByOwner(sql, 'stack', ids);
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    path: r.path ?? '',
    description: r.description,
    labels: labels.get(r.id) ?? [],
    annotations: annotations.get(r.id) ?? {},
    latest_checksum: r.latest_checksum,
    ...rolloutColumns(r),
  }));
}

/** Which of `names` are held by live stacks of another generator (probes the live-name unique index). */
export async function stackNamesHeldByOthers(sql: Sql, generatorId: string, names: readonly string[]): Promise<Map<string, NameHolder>> {
  if (names.length === 0) return new Map();
  const rows = await sql.rows<{ name: string; repository: string; path: string | null }>(
    `SELECT s.name, g.name AS repository, s.path FROM stacks s JOIN generators g ON g.id = s.generator_id
     WHERE s.name = ANY($1::text[]) AND s.deleted_at IS NULL AND s.generator_id IS DISTINCT FROM $2`,
    [[...new Set(names)], uuidParam(generatorId)],
  );
  return new Map(rows.map((r) => [r.name, { repository: r.repository, path: r.path }]));
}
