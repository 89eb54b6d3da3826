/**
 * A stack's rollout in words (SPEC §10): the phase of the whole rollout, each wave's gate state and
 * which admin actions would do something, all derived from `GET /stacks/{id}/rollout`. Pure: no DOM,
 * so it is unit-tested in Node; the rollout panel draws what this decides.
 */
import type { RolloutStatus } from '../store/rollout-records.js';

export type Wave = RolloutStatus['waves'][number];

/**
 * passed: the wave runs the target and every agent passed the gate; failed: one of its agents
 * failed it; released: it runs the target, some agents have not passed yet; waiting: it is next
 * once the earlier waves pass; held: it would be next, but the rollout is halted or paused.
 */
export const WAVE_STATES = ['passed', 'failed', 'released', 'waiting', 'held'] as const;
export type WaveState = (typeof WAVE_STATES)[number];

export const ROLLOUT_PHASES = ['halted', 'paused', 'running', 'complete'] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];

export interface WaveSummary {
  state: WaveState;
  /** One line saying why, e.g. "released, waiting for 2 of 3 agents". */
  text: string;
  passed: number;
  failed: number;
  pending: number;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Whether the wave runs the object being rolled out. */
export const onTarget = (r: RolloutStatus, w: Wave): boolean => r.target !== null && w.released?.id === r.target.id;

/**
 * Whether the stack has anything progressive to show: waves or dependencies in stack.yaml, or a
 * state an admin put it in (paused, halted, rolled back, a wave behind). Otherwise its objects go
 * to every agent at once and the panel says so in one line.
 */
export function hasRollout(r: RolloutStatus): boolean {
  return (
    r.waves.some((w) => !w.implicit) ||
    r.depends_on.length > 0 ||
    r.paused ||
    r.halted ||
    r.rollback !== null ||
    r.waves.some((w) => !onTarget(r, w))
  );
}

export function waveSummary(r: RolloutStatus, w: Wave): WaveSummary {
  const count = (gate: string) => w.agents.filter((a) => a.gate === gate).length;
  const passed = count('passed');
  const failed = count('failed');
  const pending = count('pending');
  const tally = { passed, failed, pending };
  if (r.target === null) return { state: 'waiting', text: 'nothing to roll out yet', ...tally };
  if (onTarget(r, w)) {
    if (failed > 0) return { state: 'failed', text: `${plural(failed, 'agent')} failed the gate`, ...tally };
    if (pending === 0) return { state: 'passed', text: w.agents.length === 0 ? 'released (no agents in this wave)' : 'every agent passed the gate', ...tally };
    return { state: 'released', text: `released, waiting for ${pending} of ${plural(w.agents.length, 'agent')}`, ...tally };
  }
  if (r.halted) return { state: 'held', text: 'held back: the rollout is halted', ...tally };
  if (r.paused) return { state: 'held', text: 'held back: the rollout is paused', ...tally };
  return { state: 'waiting', text: w.index === 1 ? 'not released yet' : `released once wave${w.index > 2 ? 's' : ''} 1${w.index > 2 ? `–${w.index - 1}` : ''} passed`, ...tally };
}

export function rolloutPhase(r: RolloutStatus): RolloutPhase {
  if (r.halted) return 'halted';
  if (r.paused) return 'paused';
  return r.waves.every((w) => onTarget(r, w)) ? 'complete' : 'running';
}

/**
 * The headline: "Halted: wave 1: agent canary-1 reported FAILURE: …", "Paused: …", "Rolling out
 * object 7: 1 of 3 waves released", "Complete: every wave runs object 7". `newest` is the stack's
 * newest sequence, when known: a paused stack says that a newer object waits for resume.
 */
export function rolloutHeadline(r: RolloutStatus, newest: number | null = null): string {
  const target = r.target ? `object ${r.target.sequence_id}${r.target.is_deletion_marker ? ' (deletion marker)' : ''}` : 'nothing';
  const released = r.waves.filter((w) => onTarget(r, w)).length;
  switch (rolloutPhase(r)) {
    case 'halted':
      return `Halted: ${r.halt_reason ?? 'no reason recorded'}`;
    case 'paused': {
      const waiting = newest !== null && r.target !== null && newest > r.target.sequence_id ? ` Object ${newest} (the newest) waits for resume.` : '';
      return `Paused: nothing new is released until resume; ${released} of ${plural(r.waves.length, 'wave')} run ${target}.${waiting}`;
    }
    case 'complete':
      return `Complete: every wave runs ${target}.`;
    case 'running':
      return `Rolling out ${target}: ${released} of ${plural(r.waves.length, 'wave')} released.`;
  }
}

/** Which admin actions would change something now; the others are shown but inert. */
export function usefulActions(r: RolloutStatus): { promote: boolean; pause: boolean; resume: boolean } {
  return {
    promote: r.target !== null && (r.halted || r.waves.some((w) => !onTarget(r, w))),
    pause: !r.paused,
    resume: r.paused || r.halted,
  };
}
