/** The rollout panel's words for a rollout: each wave's gate state, the headline, and which actions would do something. */
import { describe, expect, it } from 'vitest';
import { hasRollout, rolloutHeadline, rolloutPhase, usefulActions, waveSummary } from '../../src/dashboard/rollout-state.js';
import type { GateState, RolloutStatus } from '../../src/store/rollout-records.js';

const obj = (n: number) => ({ id: `o${n}`, sequence_id: n, is_deletion_marker: false });
const agent = (name: string, gate: GateState, message: string | null = null) => ({ id: name, name, cluster_name: 'c', gate, message });

/** web rolling out object 7 in three waves: canary on 7, eu and the rest still on 5. */
function rollout(over: Partial<RolloutStatus> = {}, released: (number | null)[] = [7, 5, 5]): RolloutStatus {
  const agents = [[agent('canary-1', 'pending')], [agent('eu-1', 'pending'), agent('eu-2', 'pending')], []];
  return {
    stack_id: 's',
    stack_name: 'web',
    gate: 'success',
    depends_on: [],
    target: obj(7),
    paused: false,
    halted: false,
    halt_reason: null,
    rollback: null,
    waves: released.map((r, i) => ({
      index: i + 1,
      implicit: i === released.length - 1,
      labels: i === 0 ? ['canary'] : i === 1 ? ['eu'] : [],
      annotations: {},
      released: r === null ? null : obj(r),
      agents: agents[i] ?? [],
    })),
    ...over,
  };
}

describe('rollout state in words', () => {
  it('a running rollout: wave 1 released and waiting, the later waves waiting for the earlier ones', () => {
    const r = rollout();
    expect(r.waves.map((w) => [waveSummary(r, w).state, waveSummary(r, w).text])).toEqual([
      ['released', 'released, waiting for 1 of 1 agent'],
      ['waiting', 'released once wave 1 passed'],
      ['waiting', 'released once waves 1–2 passed'],
    ]);
    expect(rolloutPhase(r)).toBe('running');
    expect(rolloutHeadline(r)).toBe('Rolling out object 7: 1 of 3 waves released.');
    expect(usefulActions(r)).toEqual({ promote: true, pause: true, resume: false });
  });

  it('a halt marks the failed wave and holds the later ones back, with the reason in the headline', () => {
    const r = rollout({ halted: true, halt_reason: 'wave 1: agent canary-1 reported FAILURE: exit 1' });
    r.waves[0].agents = [agent('canary-1', 'failed', 'exit 1')];
    expect(r.waves.map((w) => waveSummary(r, w).state)).toEqual(['failed', 'held', 'held']);
    expect(waveSummary(r, r.waves[0]).text).toBe('1 agent failed the gate');
    expect(rolloutHeadline(r)).toBe('Halted: wave 1: agent canary-1 reported FAILURE: exit 1');
    expect(usefulActions(r)).toEqual({ promote: true, pause: true, resume: true });
  });

  it('a paused rollout says a newer object waits for resume; a finished one is complete', () => {
    const paused = rollout({ paused: true });
    expect(waveSummary(paused, paused.waves[1]).text).toBe('held back: the rollout is paused');
    expect(rolloutHeadline(paused, 9)).toBe('Paused: nothing new is released until resume; 1 of 3 waves run object 7. Object 9 (the newest) waits for resume.');
    expect(rolloutHeadline(paused, 7)).toBe('Paused: nothing new is released until resume; 1 of 3 waves run object 7.');
    expect(usefulActions(paused)).toEqual({ promote: true, pause: false, resume: true });

    const done = rollout({}, [7, 7, 7]);
    for (const w of done.waves) w.agents = w.agents.map((a) => ({ ...a, gate: 'passed' as const }));
    expect(done.waves.map((w) => waveSummary(done, w).text)).toEqual(['every agent passed the gate', 'every agent passed the gate', 'released (no agents in this wave)']);
    expect(rolloutHeadline(done)).toBe('Complete: every wave runs object 7.');
    expect(usefulActions(done)).toEqual({ promote: false, pause: true, resume: false });
  });

  it('a stack without waves, dependencies or admin state has no rollout to show', () => {
    const plain = rollout({}, [7]);
    plain.waves[0].labels = [];
    expect(hasRollout(plain)).toBe(false);
    expect(hasRollout({ ...plain, paused: true })).toBe(true);
    expect(hasRollout({ ...plain, depends_on: ['postgres'] })).toBe(true);
    expect(hasRollout(rollout({}, [7, 7, 7]))).toBe(true);
  });
});
