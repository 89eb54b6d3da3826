/** Applying one commit's plan on PostgreSQL: stacks, objects, provenance, errors and the cursor, all in one transaction. */
import { deferredBatches, readBatch } from '../content-batches.js';
import type { CommitInfo, SyncState } from '../records.js';
import { ConflictError, CursorMovedError, LeaseLostError, NotFoundError, type CommitPlan, type CommitResult, type StackUpsert } from '../store.js';
import { guarded } from './errors.js';
import { SYNC_STATE_COLUMNS } from './generators-and-sync.js';
import { replaceTags, type CurrentTags } from './owner-tags.js';
import { uuidParam, type Sql } from './pg-db.js';
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
 *
 * Every statement is a round trip between the daemon and the server, and on a loaded machine each
 * costs a wake-up on both sides: statements that need no answer in between go together (state
 * and lease; a stack's lock, its tags and whether it has a rollout; an object or a deletion
 * marker and its provenance; the cursor and the generator's activity), and the change
 * announcement goes with the COMMIT
 * (PgDb.tx). A commit changing one stack is 6 round trips, was 13 (BENCHMARKS F12, ninth pass).
 */
export async function applyCommit(sql: Sql, plan: CommitPlan): Promise<CommitResult> {
  const state = await lockSyncState(sql, plan.generatorId, plan.leaseHolder ?? null);
  if (!state) throw new NotFoundError(`no sync state for generator ${plan.generatorId} (saveSyncTarget first)`);
  if (state.cursor_commit !== plan.expectedCursor) {
    throw new CursorMovedError(`sync cursor moved: expected ${plan.expectedCursor ?? '(none)'}, found ${state.cursor_commit ?? '(none)'}`);
  }
  if (plan.leaseHolder !== undefined && !state.holds_lease) {
    throw new LeaseLostError(`sync lease of generator ${plan.generatorId} is no longer held by ${plan.leaseHolder}`);
  }
  const result: CommitResult = { created: [], updated: [], deleted: [], written: [] };
  const batches = deferredBatches(plan);

  for (const stackId of plan.deletes) {
    const stack = await lockOwnStack(sql, plan.generatorId, stackId);
    if (stack.deleted_at !== null) continue; // already deleted: nothing to do, no second marker
    // The trigger soft-deletes the stack's objects and appends the deletion marker.
    await sql.run('UPDATE stacks SET deleted_at = now() WHERE id = $1', [stackId]);
    const marker = await withProvenance(
      sql,
      plan.commit,
      'SELECT id, sequence_id FROM deployment_objects WHERE stack_id = $6 AND is_deletion_marker ORDER BY sequence_id DESC LIMIT 1',
      [stackId],
    );
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
    const { stackId, changed, hasRollout } = upsert.id === undefined ? await createStack(sql, plan.generatorId, upsert) : await updateStack(sql, plan.generatorId, upsert);
    let object: { object_id: string; sequence_id: number } | null = null;
    if (upsert.content) {
      const yaml = upsert.content.yaml ?? staged.get(i);
      if (yaml === undefined) throw new Error(`stack ${upsert.name}: deferred content was not read`);
      const row = await withProvenance(
        sql,
        plan.commit,
        `INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum, submitted_at, is_deletion_marker, generator_id)
         VALUES ($6, $7, $8, now(), FALSE, $9) RETURNING id, sequence_id`,
        [stackId, yaml, upsert.content.checksum, plan.generatorId],
      );
      object = { object_id: row.id, sequence_id: row.sequence_id };
      result.created.push({ stack_id: stackId, name: upsert.name, ...object });
    }
    // Rollout settings are not tag rows: a change of them alone is announced as a changed stack. A
    // stack with no rollout row and no settings has nothing to release (rolloutOfCommit's first
    // answer; only this transaction could add the row, under the sync state's lock).
    const rolloutChanged = upsert.rollout || hasRollout ? await rolloutOfCommit(sql, stackId, upsert.rollout ?? null, object?.object_id ?? null) : false;
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

  // The cursor and the generator's last activity, one statement.
  await sql.run(
    `WITH s AS (
       UPDATE sync_state SET cursor_commit = $2, cursor_committed_at = $3, last_sync_at = now(), last_error = NULL WHERE generator_id = $1)
     UPDATE generators SET last_active_at = now() WHERE id = $1`,
    [plan.generatorId, plan.commit.sha, plan.commit.committed_at],
  );
  return result;
}

/**
 * The generator's sync state, locked (FOR UPDATE: a second writer waits, then sees the moved
 * cursor), and whether `holder` holds its sync lease by the database's clock (FOR SHARE: a
 * takeover, an UPDATE of that row, waits until this transaction is done) — one round trip. The
 * state is locked first: the lease is read in a CTE that reads the locked row.
 */
async function lockSyncState(sql: Sql, generatorId: string, holder: string | null): Promise<(SyncState & { holds_lease: boolean }) | null> {
  const row = await sql.one<SyncState & { holds_lease: boolean }>(
    `WITH s AS (SELECT ${SYNC_STATE_COLUMNS} FROM sync_state WHERE generator_id = $1 FOR UPDATE),
          l AS (SELECT 1 FROM sync_leases, s WHERE $2::text IS NOT NULL AND sync_leases.generator_id = s.generator_id
                  AND sync_leases.holder = $2 AND sync_leases.expires_at > clock_timestamp() FOR SHARE OF sync_leases)
     SELECT s.*, EXISTS (SELECT 1 FROM l) AS holds_lease FROM s`,
    [uuidParam(generatorId), holder],
  );
  return row ?? null;
}

interface OwnStack {
  id: string;
  name: string;
  path: string | null;
  description: string | null;
  deleted_at: string | null;
  generator_id: string;
}

/** `hasRollout`: whether the stack has a stack_rollouts row (never, for a new one). */
async function createStack(sql: Sql, generatorId: string, upsert: StackUpsert): Promise<{ stackId: string; changed: boolean; hasRollout: boolean }> {
  const row = await guarded(`live stack named '${upsert.name}'`, async () =>
    (await sql.one<{ id: string }>('INSERT INTO stacks (name, description, generator_id, path) VALUES ($1, $2, $3, $4) RETURNING id', [
      upsert.name,
      upsert.description,
      generatorId,
      upsert.path,
    ]))!,
  );
  await replaceTags(sql, 'stack', row.id, upsert.labels, upsert.annotations, { labels: new Set(), annotations: new Map() });
  // A new stack shows up in `created` with its first object; one without content is reported as updated.
  return { stackId: row.id, changed: !upsert.content, hasRollout: false };
}

/**
 * One of the generator's stacks, its row locked (a delete or an update of it), with its tags and
 * whether it has a rollout row, in one statement (a delete reads them and has no use for them). Its
 * tags are read in the same snapshot as the lock is taken: only the sync of the stack's generator
 * writes them (the API answers 409 git_managed), and this transaction holds that generator's sync
 * state locked, so no other writer of them can be in flight.
 */
async function lockOwnStack(sql: Sql, generatorId: string, stackId: string): Promise<OwnStack & { tags: CurrentTags; has_rollout: boolean }> {
  const row = await sql.one<OwnStack & { labels: string[]; annotations: Record<string, string>; has_rollout: boolean }>(
    `SELECT s.id, s.name, s.path, s.description, s.deleted_at, s.generator_id,
            coalesce((SELECT array_agg(l.label) FROM stack_labels l WHERE l.stack_id = s.id), '{}') AS labels,
            coalesce((SELECT json_object_agg(a.key, a.value) FROM stack_annotations a WHERE a.stack_id = s.id), '{}'::json) AS annotations,
            EXISTS (SELECT 1 FROM stack_rollouts r WHERE r.stack_id = s.id) AS has_rollout
     FROM stacks s WHERE s.id = $1 FOR UPDATE OF s`,
    [uuidParam(stackId)],
  );
  if (!row || row.generator_id !== generatorId) throw new NotFoundError(`stack ${stackId} not found for generator ${generatorId}`);
  const { labels, annotations, ...stack } = row;
  return { ...stack, tags: { labels: new Set(labels), annotations: new Map(Object.entries(annotations)) } };
}

async function updateStack(sql: Sql, generatorId: string, upsert: StackUpsert): Promise<{ stackId: string; changed: boolean; hasRollout: boolean }> {
  const stack = await lockOwnStack(sql, generatorId, upsert.id!);
  const hasRollout = stack.has_rollout;
  if (stack.deleted_at !== null) throw new ConflictError(`stack ${stack.id} ('${stack.name}') is deleted; a reappearing stack is a new row`);
  let changed = false;
  if (stack.name !== upsert.name || stack.path !== upsert.path || stack.description !== upsert.description) {
    await guarded(`live stack named '${upsert.name}'`, () =>
      sql.run('UPDATE stacks SET name = $2, path = $3, description = $4 WHERE id = $1', [stack.id, upsert.name, upsert.path, upsert.description]),
    );
    changed = true;
  }
  if (await replaceTags(sql, 'stack', stack.id, upsert.labels, upsert.annotations, stack.tags)) {
    // Tag rows have no timestamps of their own: touch the stack (the trigger writes updated_at).
    await sql.run('UPDATE stacks SET updated_at = updated_at WHERE id = $1', [stack.id]);
    changed = true;
  }
  return { stackId: stack.id, changed, hasRollout };
}

/**
 * The object `object` yields (a statement returning one row's id and sequence_id; its parameters
 * from $6, `params`) and the commit's provenance of it, in one statement: a round trip less per
 * object or deletion marker (the provenance's foreign key is checked at the statement's end).
 */
async function withProvenance(
  sql: Sql,
  commit: CommitInfo,
  object: string,
  params: readonly unknown[],
): Promise<{ id: string; sequence_id: number }> {
  const row = await sql.one<{ id: string; sequence_id: number }>(
    `WITH o AS (${object}),
     p AS (INSERT INTO object_provenance (deployment_object_id, commit_sha, author_name, author_email, subject, committed_at)
           SELECT o.id, $1, $2, $3, $4, $5 FROM o)
     SELECT id, sequence_id FROM o`,
    [commit.sha, commit.author_name, commit.author_email, commit.subject, commit.committed_at, ...params],
  );
  return row!;
}
