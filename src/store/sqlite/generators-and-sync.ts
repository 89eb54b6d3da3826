/** Generators (one per synced repository), their sync cursor and state, recorded sync errors, and the stacks a sync compares against. */
import type { Generator, SyncError, SyncState } from '../records.js';
import { NotFoundError, type NameHolder, type SyncedStack } from '../store.js';
import type { SqliteDb } from './connection.js';
import { GENERATOR_COLUMNS, type GeneratorRow, nowIso, toGenerator } from './rows.js';
import { annotationsByOwner, labelsByOwner } from './owner-tags.js';
import { rolloutColumns } from '../rollout-rules.js';

const SYNC_STATE_COLUMNS = 'generator_id, repo, branch, root, cursor_commit, cursor_committed_at, last_sync_at, last_error';
const SYNC_ERROR_COLUMNS = 'generator_id, stack_path, stack_name, commit_sha, file, line, message, created_at';

export function ensureGenerator(db: SqliteDb, name: string, description: string | null): Generator {
  return db.tx(() => {
    const existing = db
      .stmt<GeneratorRow>(`SELECT ${GENERATOR_COLUMNS} FROM generators WHERE name = ? AND deleted_at IS NULL`)
      .get(name);
    if (existing) return toGenerator(existing);
    const row = db
      .stmt<GeneratorRow>(`INSERT INTO generators (name, description) VALUES (?, ?) RETURNING ${GENERATOR_COLUMNS}`)
      .get(name, description)!;
    return toGenerator(row);
  });
}

export function listGenerators(db: SqliteDb): Generator[] {
  return db
    .stmt<GeneratorRow>(`SELECT ${GENERATOR_COLUMNS} FROM generators WHERE deleted_at IS NULL ORDER BY created_at, name`)
    .all()
    .map(toGenerator);
}

export function getSyncState(db: SqliteDb, generatorId: string): SyncState | null {
  return db.stmt<SyncState>(`SELECT ${SYNC_STATE_COLUMNS} FROM sync_state WHERE generator_id = ?`).get(generatorId) ?? null;
}

export function listSyncStates(db: SqliteDb): SyncState[] {
  return db
    .stmt<SyncState>(
      `SELECT ${SYNC_STATE_COLUMNS} FROM sync_state s WHERE EXISTS
         (SELECT 1 FROM generators g WHERE g.id = s.generator_id AND g.deleted_at IS NULL) ORDER BY repo`,
    )
    .all();
}

export function saveSyncTarget(db: SqliteDb, generatorId: string, target: { repo: string; branch: string; root: string }): SyncState {
  return db.tx(() => {
    if (!db.stmt('SELECT 1 FROM generators WHERE id = ? AND deleted_at IS NULL').get(generatorId)) {
      throw new NotFoundError(`generator ${generatorId} not found`);
    }
    return db
      .stmt<SyncState>(
        `INSERT INTO sync_state (generator_id, repo, branch, root) VALUES (?, ?, ?, ?)
         ON CONFLICT (generator_id) DO UPDATE SET repo = excluded.repo, branch = excluded.branch, root = excluded.root
         RETURNING ${SYNC_STATE_COLUMNS}`,
      )
      .get(generatorId, target.repo, target.branch, target.root)!;
  });
}

/**
 * A failure can happen before the first saveSyncTarget (the very first fetch fails): the error is
 * still recorded, on a placeholder row named after the generator, so status shows it.
 */
export function setSyncFailure(db: SqliteDb, generatorId: string, message: string | null): void {
  db.tx(() => {
    const { changes } = db.stmt('UPDATE sync_state SET last_error = ? WHERE generator_id = ?').run(message, generatorId);
    if (changes > 0 || message === null) return;
    const generator = db.stmt<{ name: string }>('SELECT name FROM generators WHERE id = ? AND deleted_at IS NULL').get(generatorId);
    if (!generator) throw new NotFoundError(`generator ${generatorId} not found`);
    db.stmt("INSERT INTO sync_state (generator_id, repo, branch, last_error) VALUES (?, ?, '', ?)").run(generatorId, generator.name, message);
  });
}

export function listSyncErrors(db: SqliteDb, generatorId?: string): SyncError[] {
  return generatorId
    ? db
        .stmt<SyncError>(`SELECT ${SYNC_ERROR_COLUMNS} FROM sync_errors WHERE generator_id = ? ORDER BY stack_path, id`)
        .all(generatorId)
    : db.stmt<SyncError>(`SELECT ${SYNC_ERROR_COLUMNS} FROM sync_errors ORDER BY generator_id, stack_path, id`).all();
}

/** Live stacks of one generator with their tags and latest content checksum (markers and deleted objects skipped). */
export function listSyncedStacks(db: SqliteDb, generatorId: string): SyncedStack[] {
  type Row = { id: string; name: string; path: string | null; description: string | null; latest_checksum: string | null; waves: string | null; gate: string | null; depends_on: string | null };
  const rows = db
    .stmt<Row>(
      `SELECT s.id, s.name, s.path, s.description,
         (SELECT o.yaml_checksum FROM deployment_objects o
           WHERE o.stack_id = s.id AND o.deleted_at IS NULL AND o.is_deletion_marker = 0
           ORDER BY o.sequence_id DESC LIMIT 1) AS latest_checksum,
         r.waves, r.gate, r.depends_on
       FROM stacks s LEFT JOIN stack_rollouts r ON r.stack_id = s.id WHERE s.generator_id = ? AND s.deleted_at IS NULL ORDER BY s.path, s.name`,
    )
    .all(generatorId);
  const ids = rows.map((r) => r.id);
  const labels = labelsByOwner(db, 'stack', ids);
  const annotations = annotationsByOwner(db, 'stack', ids);
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
export function stackNamesHeldByOthers(db: SqliteDb, generatorId: string, names: readonly string[]): Map<string, NameHolder> {
  if (names.length === 0) return new Map();
  const rows = db
    .stmt<{ name: string; repository: string; path: string | null }>(
      `SELECT s.name, g.name AS repository, s.path FROM stacks s JOIN generators g ON g.id = s.generator_id
       WHERE s.name IN (SELECT value FROM json_each(?)) AND s.deleted_at IS NULL AND s.generator_id <> ?`,
    )
    .all(JSON.stringify([...new Set(names)]), generatorId);
  return new Map(rows.map((r) => [r.name, { repository: r.repository, path: r.path }]));
}

/** Mark the generator active now (called when a commit is applied). */
export function touchGenerator(db: SqliteDb, generatorId: string): void {
  db.stmt('UPDATE generators SET last_active_at = ? WHERE id = ?').run(nowIso(), generatorId);
}
