/**
 * One sync pass: resolve the work, then run every commit through the pipeline
 * diff → affected → build → plan → write → report, oldest first, one transaction each; the view
 * moves only after a commit is written.
 */
import { affectedStep } from './affected-step.js';
import { buildStep } from './build-step.js';
import { diffStep } from './diff-step.js';
import { planStep } from './plan-step.js';
import { reportStep } from './report-step.js';
import { resolveStep, type CommitStep, type SyncWork } from './resolve-step.js';
import type { SyncEnv } from './sync-env.js';
import type { CommitReport } from './sync-report.js';
import { advanceView, loadStackDirs, type SyncView } from './sync-view.js';
import { writeStep } from './write-step.js';

/** Apply one commit step; on success the view describes the database after it. */
export async function syncCommit(env: SyncEnv, step: CommitStep, view: SyncView): Promise<CommitReport> {
  if (step.from !== null) await loadStackDirs(env, view);
  const delta = await diffStep(env, step);
  const affected = await affectedStep(env, delta, view);
  const built = await buildStep(env, affected);
  const planned = await planStep(env, built, view);
  const written = await writeStep(env, planned);
  const report = reportStep(written, view);
  advanceView(view, written);
  return report;
}

export interface PassOptions {
  branch: string;
  view: SyncView;
  previousRoot: string | null;
  /** Checked between commits: stop() lets the commit in flight finish, then the pass ends. */
  shouldStop?: () => boolean;
  /** Called after each applied commit (logging). */
  onCommit?: (report: CommitReport) => void;
}

export interface PassResult {
  work: SyncWork;
  commits: CommitReport[];
  /** False when the pass stopped early (stop requested) with commits left. */
  complete: boolean;
}

export async function runSyncPass(env: SyncEnv, options: PassOptions): Promise<PassResult> {
  const work = await resolveStep(env, { branch: options.branch, view: options.view, previousRoot: options.previousRoot });
  for (const warning of work.warnings) env.logger.warn({ branch: work.branch }, warning);
  const commits: CommitReport[] = [];
  const backlog = work.steps.length > 1;
  for (const step of work.steps) {
    if (options.shouldStop?.()) return { work, commits, complete: false };
    const report = await syncCommit(env, step, options.view);
    commits.push(report);
    options.onCommit?.(report);
    if (backlog) env.onProgress?.({ phase: 'commits', done: commits.length, total: work.steps.length });
  }
  return { work, commits, complete: true };
}
