/** Health as the CLI shows it: each agent's report on the newest object it reported on, from `GET /stacks/{id}/health`. */
import type { AdminClient } from './admin-client.js';
import { formatAge, truncate } from './format-table.js';

/** The wire shape of `GET /stacks/{id}/health` (brokkr's StackHealthResponse plus per-agent reports). */
export interface StackHealth {
  stack_id: string;
  overall_status: string;
  counts: Record<string, number>;
  deployment_objects: { id: string; sequence_id: number; status: string; agents: { agent_id: string; status: string; summary: string | null; checked_at: string }[] }[];
}

export interface AgentHealth {
  agent_id: string;
  sequence_id: number;
  status: string;
  summary: string | null;
  checked_at: string;
}

export function stackHealth(client: AdminClient, stackId: string): Promise<StackHealth> {
  return client.request('GET', `/stacks/${encodeURIComponent(stackId)}/health`);
}

/** Objects come newest first, so an agent's first row is its current report. */
export function currentHealthPerAgent(h: StackHealth): Map<string, AgentHealth> {
  const out = new Map<string, AgentHealth>();
  for (const o of h.deployment_objects) {
    for (const a of o.agents) if (!out.has(a.agent_id)) out.set(a.agent_id, { ...a, sequence_id: o.sequence_id });
  }
  return out;
}

/** `degraded — 1/3 pods ready (12s ago)`; `-` when the agent never reported. */
export function formatHealth(h: AgentHealth | undefined, now = Date.now()): string {
  if (!h) return '-';
  return `${h.status}${h.summary ? ` — ${truncate(h.summary, 60)}` : ''} (${formatAge(h.checked_at, now)})`;
}
