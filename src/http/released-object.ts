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
 * A stack with `dependsOn` may still be held back on an agent whose wave has the object: until
 * every dependency associated with that agent passed the gate there, the agent's target state
 * keeps the older object. `dependencies()` asks the agent's own target state (what it is actually
 * given) and names the dependencies it waits on — a few reads per agent, so callers ask only for
 * agents that have not applied the object yet.
 */
import type { Uuid } from '../store/records.js';
import type { Store } from '../store/store.js';

/** One stack's release state, read once for all its agents. */
export interface StackRelease {
  /** Whether the object with this sequence (or a later one) is released to the agent's wave. */
  released(agentId: Uuid, sequenceId: number): boolean;
  /** Why the rollout stopped, when it is halted on an object with at least this sequence; else null. */
  haltedAt(sequenceId: number): string | null;
  /**
   * For an agent whose wave has the object: whether its target state gives it the object (or a
   * later one), and otherwise the dependencies (stack names) that have not passed the gate on it.
   */
  dependencies(agentId: Uuid, sequenceId: number): Promise<{ delivered: boolean; waitingOn: string[] }>;
}

const NOTHING_HELD: { delivered: boolean; waitingOn: string[] } = { delivered: true, waitingOn: [] };
const EVERYTHING: StackRelease = { released: () => true, haltedAt: () => null, dependencies: async () => NOTHING_HELD };

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
    async dependencies(agentId, sequenceId) {
      if (rollout.depends_on.length === 0) return NOTHING_HELD;
      const state = await store.targetStateIds(agentId, 'full');
      const given = state.find((e) => e.stack_id === stackId);
      if (given && given.sequence_id >= sequenceId) return NOTHING_HELD;
      const associated = await store.listAgentStacks(agentId);
      const waitingOn: string[] = [];
      for (const name of rollout.depends_on) {
        const dep = associated.find((s) => s.name === name);
        if (!dep) continue; // not associated with this agent: no constraint there
        const object = state.find((e) => e.stack_id === dep.id);
        if (!object || !(await passedOn(store, agentId, dep.id, object.id))) waitingOn.push(name);
      }
      return { delivered: false, waitingOn };
    },
  };
}

/** Whether the agent passed the dependency's gate on its object: SUCCESS, and healthy too with `gate: healthy`. */
async function passedOn(store: Store, agentId: Uuid, stackId: Uuid, objectId: Uuid): Promise<boolean> {
  const events = await store.listEvents({ agentId, deploymentObjectId: objectId });
  if (!events.some((e) => e.status === 'SUCCESS')) return false;
  if ((await store.getRollout(stackId)).gate !== 'healthy') return true;
  return (await store.listHealth({ agentId, deploymentObjectId: objectId })).some((h) => h.status === 'healthy');
}
