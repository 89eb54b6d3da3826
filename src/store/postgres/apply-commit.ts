/** Applying one commit's plan on PostgreSQL: stacks, objects, provenance, errors and the cursor, all in one transaction. */
import { deferredBatches, readBatch } from '../content-batches.js';
import type { CommitInfo } from '../records.js';
import { ConflictError, CursorMovedError, LeaseLostError, NotFoundError, type CommitPlan, type CommitResult, type StackUpsert } from '../store.js';
import { guarded } from './errors.js';
import { getSyncState, touchGenerator } from './generators-and-sync.js';
import { replaceTags } from './owner-tags.js';
import { uuidParam, type Sql } from './pg-db.js';
import { holdsSyncLease } from './sync-leases.js';
import { rolloutOfCommit } from './rollouts.js';

/**
 * The cursor invariant, as in SQLite: the cursor moves in the same transaction as the rows its
 * commit produced, and only from the value the plan was computed against. Here several replicas
 * may write at once, so the sync_state row is locked first (FOR UPDATE): a second writer waits,
 * then sees the moved cursor and gets CursorMovedError. The lease is checked by the database's
 * clock inside the same transaction, so a replica that lost its lease never writes.
 *
 * Deletes before creates: a commit may delete a stack and create a new one with the same name.
 * Call inside a transaction. Deferred contents (CommitPlan.readContents) are read batch by batch
 * inside that transaction, each batch just before its upserts: other sessions see none of the
 * commit before it commits, and a failing batch rolls all of it back.
 */
export async function applyCommit(sql: Sql, plan: CommitPlan): Promise<CommitResult> {
  const state = await getSyncState(sql, plan.generatorId, { forUpdate: true });
  if (!state) throw new NotFoundError(`no sync state for generator ${plan.generatorId} (saveSyncTarget first)`);
  if (state.cursor_commit !== plan.expectedCursor) {
    throw new CursorMovedError(`sync cursor moved: expected ${plan.expectedCursor ?? '(none)'}, found ${state.cursor_commit ?? '(none)'}`);
  }
  if (plan.leaseHolder !== undefined && !(await holdsSyncLease(sql, plan.generatorId, plan.leaseHolder))) {
    throw new LeaseLostError(`sync lease of generator ${plan.generatorId} is no longer held by ${plan.leaseHolder}`);
  }
  const result: CommitResult = { created: [], updated: [], deleted: [], written: [] };
  const batches = deferredBatches(plan);

  for (const stackId of plan.deletes) {
    const stack = await requireOwnStack(sql, plan.generatorId, stackId);
    if (stack.deleted_at !== null) continue; // already deleted: nothing to do, no second marker
    // The trigger soft-deletes the stack's objects and appends the deletion marker.
    await sql.run('UPDATE stacks SET deleted_at = now() WHERE id = $1', [stackId]);
    const marker = (await sql.one<{ id: string; sequence_id: number }>(
      'SELECT id, sequence_id FROM deployment_objects WHERE stack_id = $1 AND is_deletion_marker ORDER BY sequence_id DESC LIMIT 1',
      [stackId],
    ))!;
    await recordProvenance(sql, marker.id, plan.commit);
    await rolloutOfCommit(sql, stackId, undefined, marker.id); // a marker goes through the waves like any object
    result.deleted.push({ stack_id: stackId, name: stack.name, marker_id: marker.id, sequence_id: marker.sequence_id });
  }

  // The contents of the batch the next deferred upsert belongs to (read when it is reached).
  let staged = new Map<number, string>();
  let nextBatch = 0;
  for (const [i, upsert] of plan.upserts.entries()) {
    if (nextBatch < batches.length && batches[nextBatch][0] === i) {
      const indexes = batches[nextBatch++];
      const yamls = await readBatch(plan, indexes);
      staged = new Map(indexes.map((index, k) => [index, yamls[k]]));
    }
    const { stackId, changed } = upsert.id === undefined ? await createStack(sql, plan.generatorId, upsert) : await updateStack(sql, plan.generatorId, upsert);
    let object: { object_id: string; sequence_id: number } | null = null;
    if (upsert.content) {
      const yaml = upsert.content.yaml ?? staged.get(i);
      if (yaml === undefined) throw new Error(`stack ${upsert.name}: deferred content was not read`);
      const row = (await sql.one<{ id: string; sequence_id: number }>(
        `INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum, submitted_at, is_deletion_marker, generator_id)
         VALUES ($1, $2, $3, now(), FALSE, $4) RETURNING id, sequence_id`,
        [stackId, yaml, upsert.content.checksum, plan.generatorId],
      ))!;
      await recordProvenance(sql, row.id, plan.commit);
      object = { object_id: row.id, sequence_id: row.sequence_id };
      result.created.push({ stack_id: stackId, name: upsert.name, ...object });
    }
    // Rollout settings are not tag rows: a change of them alone is announced as a changed stack.
    const rolloutChanged = await rolloutOfCommit(sql, stackId, upsert.rollout ?? null, object?.object_id ?? null);
    if (changed || (rolloutChanged && object === null)) result.updated.push({ stack_id: stackId, name: upsert.name });
    result.written.push({ upsert, stack_id: stackId, new_stack: upsert.id === undefined, object });
  }

  for (const group of plan.errors) {
    await sql.run('DELETE FROM sync_errors WHERE generator_id = $1 AND stack_path = $2', [plan.generatorId, group.stack_path]);
    for (const e of group.errors) {
      await sql.run(
        `INSERT INTO sync_errors (generator_id, stack_path, stack_name, commit_sha, file, line, message, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now())`,
        [plan.generatorId, group.stack_path, e.stack_name ?? null, e.commit_sha || plan.commit.sha, e.file ?? null, e.line ?? null, e.message],
      );
    }
  }

  await sql.run(
    'UPDATE sync_state SET cursor_commit = $2, cursor_committed_at = $3, last_sync_at = now(), last_error = NULL WHERE generator_id = $1',
    [plan.generatorId, plan.commit.sha, plan.commit.committed_at],
  );
  await touchGenerator(sql, plan.generatorId);
  return result;
}

interface OwnStack {
  id: string;
  name: string;
  path: string | null;
  description: string | null;
  deleted_at: string | null;
  generator_id: string;
}

async function requireOwnStack(sql: Sql, generatorId: string, stackId: string): Promise<OwnStack> {
  const stack = await sql.one<OwnStack>('SELECT id, name, path, description, deleted_at, generator_id FROM stacks WHERE id = $1 FOR UPDATE', [
    uuidParam(stackId),
  ]);
  if (!stack || stack.generator_id !== generatorId) throw new NotFoundError(`stack ${stackId} not found for generator ${generatorId}`);
  return stack;
}

async function createStack(sql: Sql, generatorId: string, upsert: StackUpsert): Promise<{ stackId: string; changed: boolean }> {
  const row = await guarded(`live stack named '${upsert.name}'`, async () =>
    (await sql.one<{ id: string }>('INSERT INTO stacks (name, description, generator_id, path) VALUES ($1, $2, $3, $4) RETURNING id', [
      upsert.name,
      upsert.description,
      generatorId,
      upsert.path,
    ]))!,
  );
  await replaceTags(sql, 'stack', row.id, upsert.labels, upsert.annotations);
  // A new stack shows up in `created` with its first object; one without content is reported as updated.
  return { stackId: row.id, changed: !upsert.content };
}

async function updateStack(sql: Sql, generatorId: string, upsert: StackUpsert): Promise<{ stackId: string; changed: boolean }> {
  const stack = await requireOwnStack(sql, generatorId, upsert.id!);
  if (stack.deleted_at !== null) throw new ConflictError(`stack ${stack.id} ('${stack.name}') is deleted; a reappearing stack is a new row`);
  let changed = false;
  if (stack.name !== upsert.name || stack.path !== upsert.path || stack.description !== upsert.description) {
    await guarded(`live stack named '${upsert.name}'`, () =>
      sql.run('UPDATE stacks SET name = $2, path = $3, description = $4 WHERE id = $1', [stack.id, upsert.name, upsert.path, upsert.description]),
    );
    changed = true;
  }
  if (await replaceTags(sql, 'stack', stack.id, upsert.labels, upsert.annotations)) {
    // Tag rows have no timestamps of their own: touch the stack (the trigger writes updated_at).
    await sql.run('UPDATE stacks SET updated_at = updated_at WHERE id = $1', [stack.id]);
    changed = true;
  }
  return { stackId: stack.id, changed };
}

async function recordProvenance(sql: Sql, objectId: string, commit: CommitInfo): Promise<void> {
  await sql.run(
    `INSERT INTO object_provenance (deployment_object_id, commit_sha, author_name, author_email, subject, committed_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [objectId, commit.sha, commit.author_name, commit.author_email, commit.subject, commit.committed_at],
  );
}
