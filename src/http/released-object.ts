/**
 * The seam for rollout waves (SPEC §10): whether a stack's object is released to an agent, and
 * whether the stack's rollout is halted. Every reader of "released" — `GET /commits/{sha}` and so
 * `brokkr-sync wait` — goes through here.
 *
 * It reads the stack's rollout once (`Store.getRollout`: waves, their agents, the object released
 * to each): an object is released to an agent when the object released to the agent's wave is
 * that object or a later one. A stack without rollout settings has one wave on its newest object,
 * so everything is released, as before waves existed.
 *
 * Not covered: a `dependsOn` hold-back (the agent's wave is released but a dependency has not
 * passed the gate on that agent yet) still counts as released here.
 */
import type { Uuid } from '../store/records.js';
import type { Store } from '../store/store.js';

export interface ReleaseQuestion {
  stackId: Uuid;
  objectId: Uuid;
  sequenceId: number;
  agentId: Uuid;
}

/** One stack's release state, read once for all its agents. */
export interface StackRelease {
  /** Whether the object with this sequence (or a later one) is released to the agent. */
  released(agentId: Uuid, sequenceId: number): boolean;
  /** Why the rollout stopped, when it is halted on an object with at least this sequence; else null. */
  haltedAt(sequenceId: number): string | null;
}

const EVERYTHING: StackRelease = { released: () => true, haltedAt: () => null };

export async function stackRelease(store: Store, stackId: Uuid): Promise<StackRelease> {
  let rollout;
  try {
    rollout = await store.getRollout(stackId);
  } catch {
    return EVERYTHING; // a stack gone meanwhile: nothing holds anything back
  }
  const waveOfAgent = new Map<string, number | null>();
  for (const w of rollout.waves) for (const a of w.agents) waveOfAgent.set(a.id, w.released?.sequence_id ?? null);
  const target = rollout.target?.sequence_id ?? null;
  return {
    released(agentId, sequenceId) {
      if (!waveOfAgent.has(agentId)) return true; // not a member (yet): the rollout does not hold it back
      const released = waveOfAgent.get(agentId);
      return released !== null && released !== undefined && released >= sequenceId;
    },
    haltedAt(sequenceId) {
      return rollout.halted && target !== null && target >= sequenceId ? rollout.halt_reason : null;
    },
  };
}

export async function isReleased(store: Store, q: ReleaseQuestion): Promise<boolean> {
  return (await stackRelease(store, q.stackId)).released(q.agentId, q.sequenceId);
}
