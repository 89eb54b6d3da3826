/**
 * Pipeline step 1 — resolve: where the branch is, where the cursor is, and which commits to
 * apply (a snapshot, every first-parent commit oldest first, or one history-rewrite step).
 */
import type { GitCommit } from '../git/git-source.js';
import { gitCall } from './git-reads.js';
import type { SyncEnv } from './sync-env.js';
import { SyncFailureError, type CommitMode } from './sync-report.js';
import type { SyncView } from './sync-view.js';

/** One unit of work: compare `from` (null = compare against the stored state) with `commit`. */
export interface CommitStep {
  mode: CommitMode;
  from: string | null;
  commit: GitCommit;
}

export interface ResolveInput {
  branch: string;
  view: SyncView;
  /** Set when the stored root differs from the configured one: stored paths mean something else now. */
  previousRoot: string | null;
}

export interface SyncWork {
  branch: string;
  tip: string;
  steps: CommitStep[];
  warnings: string[];
}

const short = (sha: string) => sha.slice(0, 7);

/** Decide the commit steps of this pass. Git failures become sync failure codes (failure-class.ts). */
export async function resolveStep(env: SyncEnv, input: ResolveInput): Promise<SyncWork> {
  const { branch, view } = input;
  const tip = await gitCall(() => env.git.resolveBranch(branch), 'resolve the branch');
  if (tip === null) {
    throw new SyncFailureError(
      'BRANCH_MISSING',
      `branch ${branch} does not exist in ${env.git.displayName} (a new repository has no branch until its first commit; otherwise check --branch)`,
    );
  }
  if (env.root !== '' && (await gitCall(() => env.git.treeId(tip, env.root), 'read the tree')) === null) {
    throw new SyncFailureError(
      'ROOT_MISSING',
      `the sync root '${env.root}' is not a directory at ${short(tip)} on ${branch}; nothing was changed (check --root)`,
    );
  }
  const work: SyncWork = { branch, tip, steps: [], warnings: [] };
  const tipCommit = () => gitCall(() => env.git.getCommit(tip), 'read the tip commit');
  const cursor = view.cursor;

  if (cursor === null) {
    work.steps.push({ mode: 'snapshot', from: null, commit: await tipCommit() });
    return work;
  }
  if (input.previousRoot !== null && input.previousRoot !== env.root) {
    // Stored stack paths are relative to the old root: compare the whole tip with the stored state.
    work.warnings.push(
      `sync root changed from '${input.previousRoot}' to '${env.root}': comparing the tree at ${short(tip)} with the stored stacks in one step`,
    );
    work.steps.push({ mode: 'rewrite', from: null, commit: await tipCommit() });
    return work;
  }
  if (cursor === tip) return work;

  if (!(await commitExists(env, cursor))) {
    work.warnings.push(
      `history rewrite on ${branch}: the last synced commit ${short(cursor)} is no longer in the repository; comparing the tree at ${short(tip)} with the stored stacks in one step`,
    );
    work.steps.push({ mode: 'rewrite', from: null, commit: await tipCommit() });
    return work;
  }
  if (await gitCall(() => env.git.isAncestor(cursor, tip), 'compare commits')) {
    const commits = await gitCall(() => env.git.listFirstParentCommits(cursor, tip), 'list new commits');
    let from = cursor;
    for (const commit of commits) {
      // Diff against the previously applied commit, not parents[0]: after a branch switch the
      // first commit's parent need not be the cursor, and the view describes the cursor's tree.
      work.steps.push({ mode: 'incremental', from, commit });
      from = commit.sha;
    }
    if (from !== tip) {
      // Defensive: a listing that does not end at the tip would leave the cursor behind forever.
      work.steps.push({ mode: 'incremental', from, commit: await tipCommit() });
    }
    return work;
  }
  work.warnings.push(
    `history rewrite on ${branch}: ${short(tip)} does not descend from the last synced commit ${short(cursor)}; comparing the two trees in one step`,
  );
  work.steps.push({ mode: 'rewrite', from: cursor, commit: await tipCommit() });
  return work;
}

async function commitExists(env: SyncEnv, sha: string): Promise<boolean> {
  try {
    return (await env.git.getCommit(sha)).sha !== '';
  } catch {
    return false;
  }
}
