/**
 * The release rules of progressive delivery (SPEC §10), written once for every engine as pure
 * functions of stored rows: each engine loads the rows (in its createEvent / applyCommit / admin
 * transaction, or for a target state), calls these, and writes back what they return. So every
 * replica computes the same releases from the same rows, and a restart changes nothing.
 *
 * A stack with a `stack_rollouts` row keeps, per wave (explicit waves, then the implicit last
 * one), the object that wave is released: `released[k]`. A new object starts at wave 1
 * (`released[0]`); wave k+1 gets the target once every agent of waves 1..k passed the gate for
 * it; a FAILURE of a released wave's agent halts (sticky until a newer object or an admin).
 */
import { waveOf } from '../manifest/rollout-manifest.js';
import type { GateState, RolloutConfig } from './rollout-records.js';
import type { TargetStateEntry } from './store.js';

/** One `stack_rollouts` row, parsed. */
export interface RolloutRow {
  stack_id: string;
  config: RolloutConfig;
  target_object_id: string | null;
  /** Per wave (config.waves.length + 1 entries): the object released to it, null for nothing yet. */
  released: (string | null)[];
  paused: boolean;
  halt_reason: string | null;
  /** FAILURE events up to this agent_events.seq were overruled by an admin (promote, resume) and no longer halt. */
  acknowledged_seq: number;
}

/** An agent associated with the stack, and its wave. */
export interface RolloutMember {
  agent_id: string;
  name: string;
  labels: string[];
  annotations: Record<string, string>;
}

/** What an agent last said about the target: its latest event's status and message, and its latest health. */
export interface AgentGateInput {
  status: string | null;
  message: string | null;
  health: string | null;
}

/** released[] of the right length for the config (waves added or removed keep the last wave's object). */
export function fitReleased(released: readonly (string | null)[], waves: number): (string | null)[] {
  const last = released.length > 0 ? released[released.length - 1] : null;
  return Array.from({ length: waves + 1 }, (_, i) => (i < released.length - 1 ? released[i] : last));
}

/** A new object of the stack: wave 1 gets it at once, unless paused (then it is only recorded). */
export function startRelease(row: RolloutRow, objectId: string): RolloutRow {
  if (row.paused) return row;
  const released = fitReleased(row.released, row.config.waves.length);
  released[0] = objectId;
  return { ...row, target_object_id: objectId, released, halt_reason: null };
}

export function gateOf(input: AgentGateInput | undefined, gate: RolloutConfig['gate']): GateState {
  if (!input) return 'pending';
  if (input.status === 'FAILURE' || (gate === 'healthy' && input.health === 'failing')) return 'failed';
  if (input.status === 'SUCCESS' && (gate === 'success' || input.health === 'healthy')) return 'passed';
  return 'pending';
}

/**
 * Release every wave whose predecessors all passed the gate; halt on a failure in a released
 * wave. Returns the new row and whether anything an agent sees changed (a wave released).
 */
export function advanceRollout(
  row: RolloutRow,
  members: readonly RolloutMember[],
  gates: ReadonlyMap<string, AgentGateInput>,
): { row: RolloutRow; released: boolean; halted: boolean; releasedTo: string[] } {
  const target = row.target_object_id;
  if (target === null || row.paused || row.halt_reason !== null) return { row, released: false, halted: false, releasedTo: [] };
  const waves = row.config.waves.length;
  const released = fitReleased(row.released, waves);
  const byWave = Array.from({ length: waves + 1 }, () => [] as RolloutMember[]);
  for (const m of members) byWave[waveOf(row.config.waves, m.labels, m.annotations)].push(m);
  let changed = false;
  // The agents of the waves released here: only their target states change.
  const releasedTo: string[] = [];
  for (let k = 0; k <= waves; k++) {
    if (released[k] !== target) break;
    const failed = byWave[k].find((m) => gateOf(gates.get(m.agent_id), row.config.gate) === 'failed');
    if (failed) {
      const g = gates.get(failed.agent_id);
      const why = g?.status === 'FAILURE' ? `FAILURE${g.message ? `: ${g.message}` : ''}` : 'failing health';
      const reason = `wave ${k + 1}: agent ${failed.name} reported ${why}`;
      return { row: { ...row, released, halt_reason: reason }, released: changed, halted: true, releasedTo };
    }
    if (k === waves) break;
    if (!byWave[k].every((m) => gateOf(gates.get(m.agent_id), row.config.gate) === 'passed')) break;
    if (released[k + 1] === target) continue; // released before: nothing changes for its agents
    released[k + 1] = target;
    changed = true;
    for (const m of byWave[k + 1]) releasedTo.push(m.agent_id);
  }
  return { row: { ...row, released }, released: changed, halted: false, releasedTo };
}

/**
 * Whether one agent's new event or health report on the target can change the rollout, so that
 * the full evaluation (every member of every wave, O(agents)) runs only when it can (F11).
 *
 * It relies on the row being what advanceRollout makes of the stored rows before the report:
 * every write that can move a gate or a member re-evaluates (events, health reports, commits,
 * admin actions, an agent's labels, annotations, targets or deletion, a stack's labels or
 * annotations). Then only the reporter's gate moved, and:
 * - its wave is not released: the evaluation never reaches it;
 * - its gate did not change, or is pending: a pending agent neither releases nor halts anything;
 * - failed: the evaluation may halt in its wave (whether it gets there is left to it);
 * - passed in the implicit last wave: no wave follows;
 * - passed: something can be released only once its whole wave passed ('if-wave-passed': the
 *   caller checks that wave's members alone).
 */
export function reportMayChange(row: RolloutRow, wave: number, gate: { before: GateState | null; after: GateState }): 'no' | 'yes' | 'if-wave-passed' {
  if (row.target_object_id === null || row.paused || row.halt_reason !== null) return 'no';
  if (fitReleased(row.released, row.config.waves.length)[wave] !== row.target_object_id) return 'no';
  if (gate.before === gate.after || gate.after === 'pending') return 'no';
  if (gate.after === 'failed') return 'yes';
  return wave < row.config.waves.length ? 'if-wave-passed' : 'no';
}

/** A gate input from an agent's latest events on the target (oldest first) and its health there; undefined when it said nothing. */
export function gateInputOf(events: readonly { status: string; message: string | null }[], health: string | null): AgentGateInput | undefined {
  const last = events.at(-1);
  if (!last && health === null) return undefined;
  return { status: last?.status ?? null, message: last?.message ?? null, health };
}

/** Admin promote: release the next wave not yet on the target, and lift a halt. */
export function promoteRollout(row: RolloutRow): RolloutRow {
  const released = fitReleased(row.released, row.config.waves.length);
  if (row.target_object_id !== null) {
    const next = released.findIndex((r) => r !== row.target_object_id);
    if (next >= 0) released[next] = row.target_object_id;
  }
  return { ...row, released, halt_reason: null };
}

/** Whether the row still matters: settings in stack.yaml, a pause, or waves not all on the target. */
export function rolloutNeeded(row: RolloutRow): boolean {
  const c = row.config;
  return c.waves.length > 0 || c.depends_on.length > 0 || row.paused || row.released.some((r) => r !== row.target_object_id);
}

/** What the target-state resolution reads for one agent (loaded by each engine). */
export interface AgentRolloutInputs {
  rows: Map<string, RolloutRow>;
  labels: string[];
  annotations: Record<string, string>;
  /** Objects the rows name (released, targets), by id. */
  objects: Map<string, TargetStateEntry & { is_deletion_marker: boolean }>;
  /** The agent's SUCCESS-reported objects of the managed stacks and their dependencies. */
  succeeded: (TargetStateEntry & { healthy: boolean })[];
  /** Names of every stack associated with the agent (only loaded when some row has depends_on). */
  stackNames: Map<string, string>;
}

/**
 * The agent's target state with rollout stacks resolved. `entries` is the plain state (latest
 * object of every associated stack, incremental filter NOT applied to managed stacks): a managed
 * stack shows the object released to the agent's wave, held back to the newest object the agent
 * already applied while a dependency associated with it has not passed the gate there.
 */
export function resolveTargetState(
  entries: readonly TargetStateEntry[],
  managed: ReadonlySet<string>,
  inputs: AgentRolloutInputs,
  mode: 'incremental' | 'full',
): TargetStateEntry[] {
  const resolved = new Map<string, TargetStateEntry | null>();
  const plain = new Map(entries.map((e) => [e.stack_id, e]));
  const byName = new Map([...inputs.stackNames].map(([id, name]) => [name, id]));
  const succeededIds = new Map(inputs.succeeded.map((s) => [s.id, s]));
  const resolving = new Set<string>();

  const resolve = (stackId: string): TargetStateEntry | null => {
    if (resolved.has(stackId)) return resolved.get(stackId)!;
    const row = inputs.rows.get(stackId);
    if (!managed.has(stackId) || !row) return plain.get(stackId) ?? null;
    if (resolving.has(stackId)) return null; // a cycle (refused by sync): deliver nothing rather than loop
    resolving.add(stackId);
    const wave = waveOf(row.config.waves, inputs.labels, inputs.annotations);
    const releasedId = fitReleased(row.released, row.config.waves.length)[wave];
    let entry: TargetStateEntry | null = releasedId ? (inputs.objects.get(releasedId) ?? null) : null;
    if (entry && !succeededIds.has(entry.id)) {
      const blocked = row.config.depends_on.some((name) => {
        const depId = byName.get(name);
        if (depId === undefined) return false; // not associated with this agent (or unknown): no constraint
        // A plain stack missing from an incremental state was applied already (or has no object).
        if (!managed.has(depId) && !plain.has(depId)) return false;
        const dep = resolve(depId);
        if (dep === null) return true;
        const s = succeededIds.get(dep.id);
        const gate = inputs.rows.get(depId)?.config.gate ?? 'success';
        return !s || (gate === 'healthy' && !s.healthy);
      });
      if (blocked) {
        const limit = entry.sequence_id;
        entry = inputs.succeeded.filter((s) => s.stack_id === stackId && s.sequence_id <= limit).sort((a, b) => b.sequence_id - a.sequence_id)[0] ?? null;
        if (entry) entry = { id: entry.id, sequence_id: entry.sequence_id, stack_id: entry.stack_id };
      }
    }
    resolving.delete(stackId);
    resolved.set(stackId, entry);
    return entry;
  };

  const out: TargetStateEntry[] = [];
  for (const e of entries) {
    if (!managed.has(e.stack_id)) {
      out.push(e);
      continue;
    }
    const r = resolve(e.stack_id);
    if (r === null) continue;
    if (mode === 'incremental' && succeededIds.has(r.id)) continue;
    out.push({ id: r.id, sequence_id: r.sequence_id, stack_id: r.stack_id });
  }
  return out.sort((a, b) => b.sequence_id - a.sequence_id);
}

/** A SyncedStack's `rollout` from a LEFT JOINed stack_rollouts row: absent when there are no settings (a row may exist only for a pause). */
export function rolloutColumns(r: { waves: string | null; gate: string | null; depends_on: string | null }): { rollout?: RolloutConfig } {
  if (r.waves === null) return {};
  const config: RolloutConfig = { waves: JSON.parse(r.waves), gate: (r.gate ?? 'success') as RolloutConfig['gate'], depends_on: JSON.parse(r.depends_on ?? '[]') };
  return config.waves.length === 0 && config.depends_on.length === 0 && config.gate === 'success' ? {} : { rollout: config };
}
