/**
 * Where a commit is in the fleet (`GET /commits/{sha}`, `brokkr-sync wait`): per stack the commit
 * changed, per agent associated with it, whether that commit's object — or a later one of the
 * same stack, which carries the change forward — is released, applied, failed, and healthy.
 *
 * Cost: a handful of indexed reads per stack the commit changed (its agents, its objects from
 * the commit's on, their events, its health rows), whatever the size of the fleet's history; for
 * a stack with `dependsOn`, a few more per agent that has not applied it yet (its target state).
 */
import type { DeploymentHealth, HealthStatus } from '../store/records.js';
import type { CommitObject, Store } from '../store/store.js';
import { stackRelease } from './released-object.js';

export const DELIVERY_STATES = ['applied', 'failed', 'pending'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];
/** healthy only when health was asked for. */
export type CommitState = DeliveryState | 'healthy';

export interface AgentDelivery {
  agent_id: string;
  agent_name: string;
  cluster_name: string;
  /** Whether the agent is given the object: its wave has it, and no dependency holds it back there. */
  released: boolean;
  /** The stacks (dependsOn) that must pass the gate on this agent before it is given the object; empty when none. */
  waiting_on: string[];
  state: DeliveryState;
  /** The newest object of the stack (this commit's or later) the agent reported SUCCESS for. */
  applied_sequence_id: number | null;
  /** The FAILURE event's message (or, with health asked, the failing health summary). */
  message: string | null;
  /** The agent's health report on the object it applied; null when none (or a deletion marker). */
  health: { status: HealthStatus; summary: string | null; checked_at: string } | null;
}

export interface StackDelivery {
  stack_id: string;
  stack_name: string;
  object_id: string;
  sequence_id: number;
  is_deletion_marker: boolean;
  /** The stack's newest object when a later commit replaced this one, else null. */
  latest_sequence_id: number | null;
  /** Why the stack's rollout is halted on this commit's object (or a later one); null when it is not. */
  halt_reason: string | null;
  agents: AgentDelivery[];
}

export interface CommitStatus {
  sha: string;
  subject: string | null;
  state: CommitState;
  healthy_required: boolean;
  counts: Record<DeliveryState, number>;
  stacks: StackDelivery[];
}

/** Build the answer for the objects of one commit (all with the same commit_sha). */
export async function commitStatus(store: Store, sha: string, objects: readonly CommitObject[], opts: { healthy: boolean }): Promise<CommitStatus> {
  const stacks = await Promise.all(objects.map((o) => stackDelivery(store, o, opts.healthy)));
  const agents = stacks.flatMap((s) => s.agents.map((a) => ({ a, marker: s.is_deletion_marker })));
  const counts = { applied: 0, failed: 0, pending: 0 };
  for (const { a } of agents) counts[a.state] += 1;
  const halted = stacks.some((s) => s.halt_reason !== null);
  let state: CommitState = counts.failed > 0 || halted ? 'failed' : counts.pending > 0 ? 'pending' : 'applied';
  if (state === 'applied' && opts.healthy) state = agents.every(({ a, marker }) => marker || a.health?.status === 'healthy') ? 'healthy' : 'applied';
  return { sha, subject: objects[0]?.subject ?? null, state, healthy_required: opts.healthy, counts, stacks };
}

async function stackDelivery(store: Store, o: CommitObject, healthy: boolean): Promise<StackDelivery> {
  const [agents, later, health, release] = await Promise.all([
    store.listStackAgents(o.stack_id),
    store.listStackObjectsFrom(o.stack_id, o.sequence_id),
    store.listHealth({ stackId: o.stack_id }),
    stackRelease(store, o.stack_id),
  ]);
  // Events on every object from the commit's on, newest object first, each newest event first.
  const events = (await Promise.all(later.map((obj) => store.listEvents({ deploymentObjectId: obj.id })))).map((list, i) => ({ obj: later[i]!, list }));
  const healthOf = new Map<string, DeploymentHealth>(health.map((h) => [`${h.agent_id} ${h.deployment_object_id}`, h]));

  const perAgent = await Promise.all(
    agents.map(async (agent): Promise<AgentDelivery> => {
      const applied = events.find(({ list }) => list.some((e) => e.agent_id === agent.id && e.status === 'SUCCESS'));
      let released = release.released(agent.id, o.sequence_id);
      let waitingOn: string[] = [];
      if (released && !applied) {
        // Its wave has the object, but a dependency may still hold it back on this agent.
        const held = await release.dependencies(agent.id, o.sequence_id);
        released = held.delivered;
        waitingOn = held.waitingOn;
      }
      const last = events.map(({ list }) => list.find((e) => e.agent_id === agent.id)).find((e) => e !== undefined);
      const h = applied && !applied.obj.is_deletion_marker ? healthOf.get(`${agent.id} ${applied.obj.id}`) : undefined;
      const base = {
        agent_id: agent.id,
        agent_name: agent.name,
        cluster_name: agent.cluster_name,
        released,
        waiting_on: waitingOn,
        applied_sequence_id: applied?.obj.sequence_id ?? null,
        health: h ? { status: h.status, summary: h.summary, checked_at: h.checked_at } : null,
      };
      if (applied) {
        if (healthy && h?.status === 'failing') return { ...base, state: 'failed', message: `health failing${h.summary ? `: ${h.summary}` : ''}` };
        return { ...base, state: 'applied', message: null };
      }
      if (released && last?.status === 'FAILURE') return { ...base, state: 'failed', message: last.message };
      return { ...base, state: 'pending', message: null };
    }),
  );
  const newest = later[0];
  return {
    stack_id: o.stack_id,
    stack_name: o.stack_name,
    object_id: o.object_id,
    sequence_id: o.sequence_id,
    is_deletion_marker: o.is_deletion_marker,
    latest_sequence_id: newest && newest.sequence_id !== o.sequence_id ? newest.sequence_id : null,
    halt_reason: release.haltedAt(o.sequence_id),
    agents: perAgent,
  };
}
