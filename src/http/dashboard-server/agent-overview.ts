/** Agents as the dashboard lists them: record fields (never the PAK hash), labels, annotations, delivery counts. */
import type { ChangeFeed } from '../../change-feed.js';
import type { Store } from '../../store/store.js';

/** A heartbeat older than this (or none at all) is shown as stale. */
export const STALE_AFTER_SECONDS = 120;

export interface AgentOverview {
  id: string;
  name: string;
  cluster_name: string;
  status: string;
  created_at: string;
  last_heartbeat: string | null;
  heartbeat_age_seconds: number | null;
  stale: boolean;
  /** The agent's own last report on its Kubernetes API (brokkr's heartbeat report); null until reported. */
  k8s_reachable: boolean | null;
  k8s_api_latency_ms: number | null;
  k8s_reported_at: string | null;
  labels: string[];
  annotations: Record<string, string>;
  pending: number;
  failed: number;
}

/** GET /api/v1/dashboard/agents */
export interface AgentsAnswer {
  now: string;
  stale_after_seconds: number;
  agents: AgentOverview[];
}

type Tags = Map<string, { labels: string[]; annotations: Record<string, string> }>;

/**
 * Labels and annotations cost two reads per agent, so they are cached per feed version (label
 * routes notify the feed). Agent rows and counts are read fresh on every call: heartbeats move
 * `last_heartbeat` without notifying anyone, and both reads are single queries.
 */
export class AgentOverviewSource {
  #tags: { version: number; at: number; ids: string; value: Promise<Tags> } | null = null;

  constructor(
    private readonly store: Store,
    private readonly feed: ChangeFeed,
    private readonly maxAgeMs = 10_000,
  ) {}

  async list(now = Date.now()): Promise<AgentOverview[]> {
    const [agents, summary] = await Promise.all([this.store.listAgents(), this.store.agentDeliverySummary()]);
    const counts = new Map(summary.map((s) => [s.agent_id, s]));
    const tags = await this.#tagsFor(agents.map((a) => a.id), now);
    return agents
      .map((a): AgentOverview => {
        const age = a.last_heartbeat ? Math.max(0, Math.floor((now - Date.parse(a.last_heartbeat)) / 1000)) : null;
        return {
          id: a.id,
          name: a.name,
          cluster_name: a.cluster_name,
          status: a.status,
          created_at: a.created_at,
          last_heartbeat: a.last_heartbeat,
          heartbeat_age_seconds: age,
          stale: age === null || age > STALE_AFTER_SECONDS,
          k8s_reachable: a.k8s_reachable,
          k8s_api_latency_ms: a.k8s_api_latency_ms,
          k8s_reported_at: a.k8s_reported_at,
          labels: tags.get(a.id)?.labels ?? [],
          annotations: tags.get(a.id)?.annotations ?? {},
          pending: counts.get(a.id)?.pending ?? 0,
          failed: counts.get(a.id)?.failed ?? 0,
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name) || a.cluster_name.localeCompare(b.cluster_name));
  }

  #tagsFor(agentIds: string[], now: number): Promise<Tags> {
    const version = this.feed.version;
    const ids = agentIds.join(',');
    const hit = this.#tags;
    if (hit && hit.version === version && hit.ids === ids && now - hit.at < this.maxAgeMs) return hit.value;
    const value = this.#readTags(agentIds);
    const entry = { version, at: now, ids, value };
    this.#tags = entry;
    value.catch(() => {
      if (this.#tags === entry) this.#tags = null;
    });
    return value;
  }

  async #readTags(agentIds: string[]): Promise<Tags> {
    const tags: Tags = new Map();
    for (const id of agentIds) {
      const [labels, annotations] = await Promise.all([
        this.store.listLabels('agent', id),
        this.store.listAnnotations('agent', id),
      ]);
      tags.set(id, {
        labels: labels.map((l) => l.label).sort(),
        annotations: Object.fromEntries(annotations.map((a) => [a.key, a.value])),
      });
    }
    return tags;
  }
}
