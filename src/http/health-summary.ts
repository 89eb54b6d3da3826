/** brokkr's health arithmetic: the worst status wins (failing > degraded > healthy > unknown), counts per status. */
import { HEALTH_STATUSES, type DeploymentHealth, type HealthStatus } from '../store/records.js';

const RANK: Record<HealthStatus, number> = { failing: 3, degraded: 2, healthy: 1, unknown: 0 };

export type HealthCounts = Record<HealthStatus, number>;

/** The worst of the statuses; `unknown` when there are none. */
export function worstStatus(statuses: Iterable<HealthStatus>): HealthStatus {
  let worst: HealthStatus = 'unknown';
  for (const s of statuses) if (RANK[s] > RANK[worst]) worst = s;
  return worst;
}

export function countStatuses(rows: readonly Pick<DeploymentHealth, 'status'>[]): HealthCounts {
  const counts = Object.fromEntries(HEALTH_STATUSES.map((s) => [s, 0])) as HealthCounts;
  for (const r of rows) counts[r.status] += 1;
  return counts;
}

/** Each agent's report on the newest object it reported on (rows come newest object first). */
export function latestPerAgent(rows: readonly DeploymentHealth[]): DeploymentHealth[] {
  const seen = new Map<string, DeploymentHealth>();
  for (const r of rows) if (!seen.has(r.agent_id)) seen.set(r.agent_id, r);
  return [...seen.values()];
}
