/** Progressive delivery as the store keeps it (SPEC §10): a stack's rollout settings and the state of its release. */
import type { RolloutGate, WaveSelector } from '../manifest/rollout-manifest.js';
import type { Uuid } from './records.js';

export type { RolloutGate, WaveSelector } from '../manifest/rollout-manifest.js';

/** What stack.yaml says: waves (maybe none), the gate, and the stacks delivered first. Null on a stack: none of it (the fast path). */
export interface RolloutConfig {
  waves: WaveSelector[];
  gate: RolloutGate;
  depends_on: string[];
}

/** An object as a rollout names it. */
export interface RolloutObjectRef {
  id: Uuid;
  sequence_id: number;
  is_deletion_marker: boolean;
}

export const GATE_STATES = ['passed', 'failed', 'pending'] as const;
/** One agent's standing with the object being rolled out. */
export type GateState = (typeof GATE_STATES)[number];

/** `GET /stacks/{id}/rollout`: waves, their agents, what each wave runs, and why it stopped. */
export interface RolloutStatus {
  stack_id: Uuid;
  stack_name: string;
  gate: RolloutGate;
  depends_on: string[];
  /** The object being rolled out (the stack's newest unless paused since). */
  target: RolloutObjectRef | null;
  paused: boolean;
  halted: boolean;
  halt_reason: string | null;
  /** Explicit waves, then the implicit last one (agents matching no wave). */
  waves: {
    index: number;
    implicit: boolean;
    labels: string[];
    annotations: Record<string, string>;
    released: RolloutObjectRef | null;
    agents: { id: Uuid; name: string; cluster_name: string; gate: GateState; message: string | null }[];
  }[];
  /** Set when the current target is a rollback. */
  rollback: RollbackProvenance | null;
}

/** Who rolled a stack back, from what, to what. */
export interface RollbackProvenance {
  deployment_object_id: Uuid;
  source_object_id: Uuid;
  source_sequence_id: number;
  replaced_object_id: Uuid | null;
  replaced_sequence_id: number | null;
  actor: string;
  created_at: string;
}

export const ROLLOUT_ACTIONS = ['promote', 'pause', 'resume'] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];

/**
 * A write that may move agents between a rollout's waves (or in or out of it): an agent's label,
 * annotation (by key) or target (stackId) changed, or the agent was deleted (agentId alone), or a
 * stack's own labels or annotations changed (stackId alone).
 */
export interface MembershipChange {
  agentId?: Uuid;
  stackId?: Uuid;
  label?: string;
  annotationKey?: string;
}
