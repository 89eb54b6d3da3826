/** Rows of a fleet-wide target-state read, grouped per agent (both engines return the same row shape). */
import type { TargetStateEntry } from './store.js';

/** Rows ordered by agent → agent id → entries in row order (an agent with an empty target state is absent). */
export function groupByAgent(rows: (TargetStateEntry & { agent_id: string })[]): Map<string, TargetStateEntry[]> {
  const out = new Map<string, TargetStateEntry[]>();
  for (const { agent_id, id, sequence_id, stack_id } of rows) {
    const list = out.get(agent_id);
    const entry = { id, sequence_id, stack_id };
    if (list) list.push(entry);
    else out.set(agent_id, [entry]);
  }
  return out;
}
