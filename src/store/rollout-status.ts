/** Building `GET /stacks/{id}/rollout` from loaded rows, the same for every engine. */
import { waveOf } from '../manifest/rollout-manifest.js';
import type { RolloutObjectRef, RolloutStatus, RollbackProvenance } from './rollout-records.js';
import { fitReleased, gateOf, type AgentGateInput, type RolloutMember, type RolloutRow } from './rollout-rules.js';

/** An empty row for a stack without one: everything on `latest`, no waves (how rollback and pause start). */
export function plainRow(stackId: string, latest: string | null): RolloutRow {
  return { stack_id: stackId, config: { waves: [], gate: 'success', depends_on: [] }, target_object_id: latest, released: [latest], paused: false, halt_reason: null, acknowledged_seq: 0 };
}

export function buildRolloutStatus(input: {
  stack: { id: string; name: string };
  row: RolloutRow;
  members: (RolloutMember & { cluster_name: string })[];
  gates: ReadonlyMap<string, AgentGateInput>;
  objects: ReadonlyMap<string, RolloutObjectRef>;
  rollback: RollbackProvenance | null;
}): RolloutStatus {
  const { row } = input;
  const ref = (id: string | null): RolloutObjectRef | null => (id === null ? null : (input.objects.get(id) ?? null));
  const released = fitReleased(row.released, row.config.waves.length);
  const waves: RolloutStatus['waves'] = released.map((id, index) => ({
    index: index + 1,
    implicit: index === row.config.waves.length,
    labels: row.config.waves[index]?.labels ?? [],
    annotations: row.config.waves[index]?.annotations ?? {},
    released: ref(id),
    agents: [],
  }));
  for (const m of input.members) {
    const g = input.gates.get(m.agent_id);
    waves[waveOf(row.config.waves, m.labels, m.annotations)].agents.push({
      id: m.agent_id,
      name: m.name,
      cluster_name: m.cluster_name,
      gate: gateOf(g, row.config.gate),
      message: g?.message ?? null,
    });
  }
  return {
    stack_id: input.stack.id,
    stack_name: input.stack.name,
    gate: row.config.gate,
    depends_on: row.config.depends_on,
    target: ref(row.target_object_id),
    paused: row.paused,
    halted: row.halt_reason !== null,
    halt_reason: row.halt_reason,
    waves,
    rollback: input.rollback,
  };
}
