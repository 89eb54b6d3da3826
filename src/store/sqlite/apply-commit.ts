/** Applying one commit's plan: stacks, objects, provenance, errors and the cursor, all in one transaction. */
import { randomUUID } from 'node:crypto';
import { deferredBatches, readBatch } from '../content-batches.js';
import type { CommitInfo } from '../records.js';
import { ConflictError, CursorMovedError, LeaseLostError, NotFoundError, type CommitPlan, type CommitResult, type StackUpsert } from '../store.js';
import type { SqliteDb } from './connection.js';
import { guarded } from './errors.js';
import { getSyncState, touchGenerator } from './generators-and-sync.js';
import { replaceTags } from './owner-tags.js';
import { nowIso } from './rows.js';
import { holdsSyncLease } from './sync-leases.js';
import { rolloutOfCommit } from './rollouts.js';

/**
 * The cursor invariant: the cursor moves in the same transaction as the rows its commit produced,
 * and only from the value the plan was computed against. So a crash anywhere leaves either the
 * whole commit applied or none of it, and two writers cannot both apply the same commit.
 *
 * Order inside the transaction: deletes before creates, because a commit may delete a stack and
 * create a new one with the same name (a live name must be unique only among live rows).
 */
export function applyCommit(db: SqliteDb, plan: CommitPlan, deferred?: (upsertIndex: number) => string): CommitResult {
  return db.tx(() => {
    const state = getSyncState(db, plan.generatorId);
    if (!state) throw new NotFoundError(`no sync state for generator ${plan.generatorId} (saveSyncTarget first)`);
    if (state.cursor_commit !== plan.expectedCursor) {
      throw new CursorMovedError(
        `sync cursor moved: expected ${plan.expectedCursor ?? '(none)'}, found ${state.cursor_commit ?? '(none)'}`,
      );
    }
    if (plan.leaseHolder !== undefined && !holdsSyncLease(db, plan.generatorId, plan.leaseHolder)) {
      throw new LeaseLostError(`sync lease of generator ${plan.generatorId} is no longer held by ${plan.leaseHolder}`);
    }
    const now = nowIso();
    const result: CommitResult = { created: [], updated: [], deleted: [], written: [] };

    for (const stackId of plan.deletes) {
      const stack = requireOwnStack(db, plan.generatorId, stackId);
      if (stack.deleted_at !== null) continue; // already deleted: nothing to do, no second marker
      // The trigger soft-deletes the stack's objects and appends the deletion marker.
      db.stmt('UPDATE stacks SET deleted_at = ? WHERE id = ?').run(now, stackId);
      const marker = db
        .stmt<{ id: string; sequence_id: number }>(
          'SELECT id, sequence_id FROM deployment_objects WHERE stack_id = ? AND is_deletion_marker = 1 ORDER BY sequence_id DESC LIMIT 1',
        )
        .get(stackId)!;
      recordProvenance(db, marker.id, plan.commit);
      rolloutOfCommit(db, stackId, undefined, marker.id); // a marker goes through the waves like any object
      result.deleted.push({ stack_id: stackId, name: stack.name, marker_id: marker.id, sequence_id: marker.sequence_id });
    }

    plan.upserts.forEach((upsert, i) => {
      const { stackId, changed } = upsert.id === undefined ? createStack(db, plan.generatorId, upsert) : updateStack(db, plan.generatorId, upsert);
      let object: { object_id: string; sequence_id: number } | null = null;
      if (upsert.content) {
        const yaml = upsert.content.yaml ?? deferred?.(i);
        if (yaml === undefined) throw new Error(`stack ${upsert.name}: deferred content was not staged`);
        const row = db
          .stmt<{ id: string; sequence_id: number }>(
            `INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum, submitted_at, is_deletion_marker, generator_id)
             VALUES (?, ?, ?, ?, 0, ?) RETURNING id, sequence_id`,
          )
          .get(stackId, yaml, upsert.content.checksum, now, plan.generatorId)!;
        recordProvenance(db, row.id, plan.commit);
        object = { object_id: row.id, sequence_id: row.sequence_id };
        result.created.push({ stack_id: stackId, name: upsert.name, ...object });
      }
      // Rollout settings are not tag rows: a change of them alone is announced as a changed stack.
      const rolloutChanged = rolloutOfCommit(db, stackId, upsert.rollout ?? null, object?.object_id ?? null);
      if (changed || (rolloutChanged && object === null)) result.updated.push({ stack_id: stackId, name: upsert.name });
      result.written.push({ upsert, stack_id: stackId, new_stack: upsert.id === undefined, object });
    });

    for (const group of plan.errors) {
      db.stmt('DELETE FROM sync_errors WHERE generator_id = ? AND stack_path = ?').run(plan.generatorId, group.stack_path);
      for (const e of group.errors) {
        db.stmt(
          `INSERT INTO sync_errors (generator_id, stack_path, stack_name, commit_sha, file, line, message, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(plan.generatorId, group.stack_path, e.stack_name ?? null, e.commit_sha || plan.commit.sha, e.file ?? null, e.line ?? null, e.message, now);
      }
    }

    db.stmt(
      `UPDATE sync_state SET cursor_commit = ?, cursor_committed_at = ?, last_sync_at = ?, last_error = NULL WHERE generator_id = ?`,
    ).run(plan.commit.sha, plan.commit.committed_at, now, plan.generatorId);
    touchGenerator(db, plan.generatorId);
    return result;
  });
}

interface OwnStack {
  id: string;
  name: string;
  path: string | null;
  description: string | null;
  deleted_at: string | null;
}

function requireOwnStack(db: SqliteDb, generatorId: string, stackId: string): OwnStack {
  const stack = db
    .stmt<OwnStack & { generator_id: string }>('SELECT id, name, path, description, deleted_at, generator_id FROM stacks WHERE id = ?')
    .get(stackId);
  if (!stack || stack.generator_id !== generatorId) throw new NotFoundError(`stack ${stackId} not found for generator ${generatorId}`);
  return stack;
}

function createStack(db: SqliteDb, generatorId: string, upsert: StackUpsert): { stackId: string; changed: boolean } {
  const row = guarded(`live stack named '${upsert.name}'`, () =>
    db
      .stmt<{ id: string }>('INSERT INTO stacks (name, description, generator_id, path) VALUES (?, ?, ?, ?) RETURNING id')
      .get(upsert.name, upsert.description, generatorId, upsert.path)!,
  );
  replaceTags(db, 'stack', row.id, upsert.labels, upsert.annotations);
  // A new stack shows up in `created` with its first object; one without content is reported as updated.
  return { stackId: row.id, changed: !upsert.content };
}

function updateStack(db: SqliteDb, generatorId: string, upsert: StackUpsert): { stackId: string; changed: boolean } {
  const stack = requireOwnStack(db, generatorId, upsert.id!);
  if (stack.deleted_at !== null) throw new ConflictError(`stack ${stack.id} ('${stack.name}') is deleted; a reappearing stack is a new row`);
  let changed = false;
  if (stack.name !== upsert.name || stack.path !== upsert.path || stack.description !== upsert.description) {
    guarded(`live stack named '${upsert.name}'`, () =>
      db.stmt('UPDATE stacks SET name = ?, path = ?, description = ? WHERE id = ?').run(upsert.name, upsert.path, upsert.description, stack.id),
    );
    changed = true;
  }
  if (replaceTags(db, 'stack', stack.id, upsert.labels, upsert.annotations)) {
    // Tag rows have no timestamps of their own: touch the stack (the trigger writes updated_at).
    db.stmt('UPDATE stacks SET updated_at = updated_at WHERE id = ?').run(stack.id);
    changed = true;
  }
  return { stackId: stack.id, changed };
}

function recordProvenance(db: SqliteDb, objectId: string, commit: CommitInfo): void {
  db.stmt(
    `INSERT INTO object_provenance (deployment_object_id, commit_sha, author_name, author_email, subject, committed_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(objectId, commit.sha, commit.author_name, commit.author_email, commit.subject, commit.committed_at);
}

/**
 * applyCommit for a plan whose contents come in batches (CommitPlan.readContents). better-sqlite3
 * runs a transaction synchronously on the connection every reader shares, so it cannot stay open
 * across the awaits of the reads: each batch is staged in a TEMP table (this connection's own,
 * invisible to every query of the data model), then ONE transaction applies the plan reading each
 * content from there, one row at a time. Nothing is visible before that transaction commits, a
 * failure in any batch leaves nothing behind, and the cursor and lease checks are made in it.
 * That transaction waits for the write lock without blocking the event loop (SqliteDb.txWhenFree).
 */
export async function applyCommitStreamed(db: SqliteDb, plan: CommitPlan): Promise<CommitResult> {
  const batches = deferredBatches(plan);
  if (batches.length === 0) return db.txWhenFree(() => applyCommit(db, plan));
  db.raw.exec('CREATE TEMP TABLE IF NOT EXISTS commit_contents (token TEXT NOT NULL, upsert_index INTEGER NOT NULL, yaml TEXT NOT NULL, PRIMARY KEY (token, upsert_index))');
  const token = randomUUID(); // several repositories may stage at once on this connection
  const insert = db.stmt('INSERT INTO temp.commit_contents (token, upsert_index, yaml) VALUES (?, ?, ?)');
  const stage = db.raw.transaction((indexes: readonly number[], yamls: readonly string[]) => {
    indexes.forEach((index, k) => insert.run(token, index, yamls[k]));
  });
  try {
    for (const indexes of batches) stage(indexes, await readBatch(plan, indexes));
    const select = db.stmt<{ yaml: string }>('SELECT yaml FROM temp.commit_contents WHERE token = ? AND upsert_index = ?');
    return await db.txWhenFree(() => applyCommit(db, plan, (index) => select.get(token, index)?.yaml ?? missingContent(plan, index)));
  } finally {
    db.stmt('DELETE FROM temp.commit_contents WHERE token = ?').run(token);
  }
}

function missingContent(plan: CommitPlan, index: number): never {
  throw new Error(`stack ${plan.upserts[index].name}: its deferred content was not staged`);
}
