/**
 * Pipeline step 6 — write: apply the plan in one transaction together with the cursor, then
 * move the in-memory view forward. The view changes only after the store committed, so a failed
 * or interrupted write leaves both exactly at the previous commit.
 */
import { CursorMovedError, LeaseLostError } from '../store/store.js';
import type { SyncedStack } from '../store/store.js';
import type { PlannedCommit } from './plan-step.js';
import type { SyncEnv } from './sync-env.js';
import { viewIndexes, type SyncView } from './sync-view.js';
import { SyncFailureError, type CommitReport } from './sync-report.js';

export async function writeStep(env: SyncEnv, planned: PlannedCommit, view: SyncView): Promise<CommitReport> {
  const { plan, notes } = planned;
  let result;
  try {
    result = await env.store.applyCommit(plan);
  } catch (err) {
    // A large commit's contents are read while it is applied (BuiltStacks.readContents): a git failure then is the repository's.
    if (err instanceof SyncFailureError) throw err;
    if (err instanceof CursorMovedError) {
      throw new SyncFailureError('CURSOR_MOVED', `another writer advanced the sync cursor: ${err.message}`);
    }
    if (err instanceof LeaseLostError) throw new SyncFailureError('LEASE_LOST', `commit ${plan.commit.sha.slice(0, 7)} not applied: ${err.message}`);
    const message = err instanceof Error ? err.message : String(err);
    throw new SyncFailureError('STORE_FAILED', `could not apply commit ${plan.commit.sha.slice(0, 7)}: ${message}`);
  }

  const createdByName = new Map(result.created.map((c) => [c.name, c]));
  const report: CommitReport = {
    commit: plan.commit,
    mode: planned.built.affected.step.mode,
    created: [],
    updated: [],
    deleted: [],
    errors: plan.errors.flatMap((e) => e.errors),
    cleared: plan.errors.filter((e) => e.errors.length === 0).map((e) => e.stack_path),
    stacks_read: planned.built.stacks.size,
  };

  const { byId, byName } = viewIndexes(view);
  const forget = (s: SyncedStack | undefined) => {
    if (!s) return;
    if (byId.get(s.id) === s) byId.delete(s.id);
    if (byName.get(s.name) === s) byName.delete(s.name);
  };
  // Move the view: first vacate every directory a stack leaves, then occupy the new ones (two
  // stacks may swap directories in one commit).
  for (const stack of planned.deleted) {
    forget(byId.get(stack.id));
    if (view.stacks.get(stack.path)?.id === stack.id) view.stacks.delete(stack.path);
  }
  notes.forEach((note, i) => {
    const movedId = plan.upserts[i].id;
    if (note.previousPath !== undefined && movedId && view.stacks.get(note.previousPath)?.id === movedId) {
      view.stacks.delete(note.previousPath);
    }
  });
  let unknownIds = false;
  plan.upserts.forEach((upsert, i) => {
    const note = notes[i];
    const created = createdByName.get(upsert.name);
    const id = upsert.id ?? created?.stack_id;
    if (!id) {
      unknownIds = true;
      return;
    }
    const previous = upsert.id ? byId.get(upsert.id) : undefined;
    forget(previous);
    forget(view.stacks.get(upsert.path));
    const next: SyncedStack = {
      id,
      name: upsert.name,
      path: upsert.path,
      description: upsert.description,
      labels: upsert.labels,
      annotations: upsert.annotations,
      latest_checksum: upsert.content?.checksum ?? previous?.latest_checksum ?? null,
      ...(upsert.rollout ? { rollout: upsert.rollout } : {}),
    };
    view.stacks.set(upsert.path, next);
    byId.set(id, next);
    byName.set(next.name, next);
    if (!upsert.id && created) {
      report.created.push({ stack_id: id, name: upsert.name, path: upsert.path, object_id: created.object_id, sequence_id: created.sequence_id });
    } else {
      report.updated.push({
        stack_id: id,
        name: upsert.name,
        path: upsert.path,
        fields: note.fields,
        ...(created ? { object: { object_id: created.object_id, sequence_id: created.sequence_id } } : {}),
        ...(note.previousPath !== undefined ? { previous_path: note.previousPath } : {}),
      });
    }
  });
  for (const d of result.deleted) {
    const stack = planned.deleted.find((s) => s.id === d.stack_id);
    report.deleted.push({ stack_id: d.stack_id, name: d.name, path: stack?.path ?? '', marker_id: d.marker_id, sequence_id: d.sequence_id });
  }
  for (const entry of plan.errors) {
    if (entry.errors.length > 0) view.invalidDirs.add(entry.stack_path);
    else view.invalidDirs.delete(entry.stack_path);
  }
  view.stackDirs = planned.built.affected.stackDirs;
  view.cursor = plan.commit.sha;
  if (unknownIds) {
    // The store did not report a created stack's id: reload rather than guess.
    const fresh = await env.store.listSyncedStacks(env.generatorId);
    view.stacks = new Map(fresh.map((s) => [s.path, s]));
    view.byName = undefined;
    view.byId = undefined;
  }
  return report;
}
