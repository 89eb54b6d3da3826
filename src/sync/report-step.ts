/**
 * Pipeline step 7 — report: what a written commit did, as plain values. Told from the view as it
 * was BEFORE the commit (call it before advanceView): a deleted stack's directory, and an updated
 * stack's changed fields and former directory, are its stored row's against what the store wrote.
 */
import { changedFields } from './plan-step.js';
import type { CommitReport } from './sync-report.js';
import type { SyncView } from './sync-view.js';
import type { WrittenCommit } from './write-step.js';

export function reportStep({ planned, result }: WrittenCommit, view: SyncView): CommitReport {
  const { plan, built } = planned;
  const report: CommitReport = {
    commit: plan.commit,
    mode: built.affected.step.mode,
    created: [],
    updated: [],
    deleted: result.deleted.map(({ stack_id, name, marker_id, sequence_id }) => ({ stack_id, name, path: view.byId.get(stack_id)?.path ?? '', marker_id, sequence_id })),
    errors: plan.errors.flatMap((e) => e.errors),
    cleared: plan.errors.filter((e) => e.errors.length === 0).map((e) => e.stack_path),
    stacks_read: built.stacks.size,
  };
  for (const { upsert, stack_id, new_stack, object } of result.written) {
    const change = { stack_id, name: upsert.name, path: upsert.path };
    if (new_stack && object) {
      report.created.push({ ...change, ...object });
      continue;
    }
    const stored = upsert.id === undefined ? undefined : view.byId.get(upsert.id);
    report.updated.push({
      ...change,
      fields: stored ? changedFields(stored, upsert) : [],
      ...(object ? { object } : {}),
      ...(stored && stored.path !== upsert.path ? { previous_path: stored.path } : {}),
    });
  }
  return report;
}
