/**
 * Pipeline step 6 — write: apply the plan in one transaction together with the cursor, and say
 * why when the store refuses it. Only then are the report made and the view moved (report-step,
 * sync-view's advanceView), from what the store says it wrote: a failed or interrupted write
 * leaves both exactly at the previous commit.
 */
import { CursorMovedError, LeaseLostError, type CommitResult } from '../store/store.js';
import type { PlannedCommit } from './plan-step.js';
import type { SyncEnv } from './sync-env.js';
import { SyncFailureError } from './sync-report.js';

/** A commit the store applied: the plan, and what it wrote for each of its upserts and deletes. */
export interface WrittenCommit {
  planned: PlannedCommit;
  result: CommitResult;
}

export async function writeStep(env: SyncEnv, planned: PlannedCommit): Promise<WrittenCommit> {
  const { plan } = planned;
  try {
    return { planned, result: await env.store.applyCommit(plan) };
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
}
