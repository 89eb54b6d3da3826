/**
 * What a re-evaluation of rollout gates changed, and how it is announced (F11): a released wave
 * concerns the agents of that wave only, so they — not every agent — re-read their target state.
 * A halt changes no target state (later waves simply stay where they are), so it needs no
 * announcement of its own: the write that caused it (an event, a health report, a label) is
 * announced anyway, and status views wake on that.
 */
import type { StoreChange } from './store.js';

export interface RolloutOutcome {
  /** Agents of the waves this evaluation released (their target state changed). */
  releasedTo: string[];
  halted: boolean;
}

export function mergeOutcomes(outcomes: readonly RolloutOutcome[]): RolloutOutcome {
  return { releasedTo: [...new Set(outcomes.flatMap((o) => o.releasedTo))], halted: outcomes.some((o) => o.halted) };
}

/** The outcome when it changed something, else null. */
export function changed(outcome: RolloutOutcome): RolloutOutcome | null {
  return outcome.releasedTo.length > 0 || outcome.halted ? outcome : null;
}

/**
 * PostgreSQL refuses NOTIFY payloads of 8000 bytes; 150 ids (~40 bytes each in JSON) stay well
 * under, so a release to 600 agents travels as four notifications instead of being widened to
 * "every agent re-checks".
 */
const IDS_PER_CHANGE = 150;

/** The announcements of a release: `{kind: 'agents'}` naming the agents whose target state changed. */
export function releaseChanges(outcome: RolloutOutcome | null | undefined): StoreChange[] {
  const ids = outcome?.releasedTo ?? [];
  const out: StoreChange[] = [];
  for (let i = 0; i < ids.length; i += IDS_PER_CHANGE) out.push({ kind: 'agents', agentIds: ids.slice(i, i + IDS_PER_CHANGE) });
  return out;
}
