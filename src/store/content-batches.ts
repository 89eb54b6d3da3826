/**
 * A commit's deferred contents (StackUpsert.content.yaml null), asked of CommitPlan.readContents in
 * batches while an engine applies the plan. Engine-neutral: both engines batch the same way.
 */
import type { CommitPlan } from './store.js';

/** Upserts whose YAML one readContents call brings: bounds what a large commit holds at once. */
export const CONTENT_BATCH_SIZE = 250;

/** Indexes (into plan.upserts) of the deferred contents, in batches of at most CONTENT_BATCH_SIZE, plan order. */
export function deferredBatches(plan: CommitPlan): number[][] {
  const batches: number[][] = [];
  let batch: number[] = [];
  plan.upserts.forEach((upsert, i) => {
    if (!upsert.content || upsert.content.yaml !== null) return;
    batch.push(i);
    if (batch.length === CONTENT_BATCH_SIZE) {
      batches.push(batch);
      batch = [];
    }
  });
  if (batch.length > 0) batches.push(batch);
  if (batches.length > 0 && !plan.readContents) {
    throw new Error(`commit ${plan.commit.sha.slice(0, 7)}: ${plan.upserts[batches[0][0]].name} has deferred content but the plan has no readContents`);
  }
  return batches;
}

/** The YAML of one batch, checked: one string per upsert. */
export async function readBatch(plan: CommitPlan, indexes: readonly number[]): Promise<string[]> {
  const yamls = await plan.readContents!(indexes.map((i) => plan.upserts[i]));
  if (!Array.isArray(yamls) || yamls.length !== indexes.length || yamls.some((y) => typeof y !== 'string')) {
    throw new Error(`commit ${plan.commit.sha.slice(0, 7)}: readContents returned ${Array.isArray(yamls) ? yamls.length : 'no'} contents for ${indexes.length} stacks`);
  }
  return yamls;
}
