/** Deployment health on PostgreSQL: one row per (agent, object), the agent's latest report, upserted. */
import type { DeploymentHealth } from '../records.js';
import { NotFoundError, type HealthQuery, type HealthReport } from '../store.js';
import { HEALTH_COLUMNS } from '../sqlite/health.js';
import { qualified } from '../sqlite/rows.js';
import { uuidParam, type Sql } from './pg-db.js';
import { rolloutOfHealth } from './rollouts.js';
import type { RolloutOutcome } from '../rollout-outcome.js';

/** Call inside a transaction: all reports or none; the agent row is share-locked against a concurrent delete. */
export async function reportHealth(sql: Sql, agentId: string, reports: readonly HealthReport[]): Promise<DeploymentHealth[] & { rolloutChanged?: RolloutOutcome }> {
  if (!(await sql.one('SELECT 1 FROM agents WHERE id = $1 AND deleted_at IS NULL FOR SHARE', [uuidParam(agentId)]))) {
    throw new NotFoundError(`agent ${agentId} not found`);
  }
  const out: DeploymentHealth[] = [];
  for (const r of reports) {
    if (!(await sql.one('SELECT 1 FROM deployment_objects WHERE id = $1 FOR SHARE', [uuidParam(r.deployment_object_id)]))) {
      throw new NotFoundError(`deployment object ${r.deployment_object_id} not found`);
    }
    out.push(
      (await sql.one<DeploymentHealth>(
        `INSERT INTO deployment_health (agent_id, deployment_object_id, status, summary, checked_at)
         VALUES ($1, $2, $3, $4, coalesce($5::timestamptz, now()))
         ON CONFLICT (agent_id, deployment_object_id) DO UPDATE SET
           status = excluded.status, summary = excluded.summary, checked_at = excluded.checked_at
         RETURNING ${HEALTH_COLUMNS}`,
        [agentId, r.deployment_object_id, r.status, r.summary, r.checked_at],
      ))!,
    );
  }
  // `gate: healthy` rollouts re-evaluate in the report's own transaction, as on an event.
  const outcome = await rolloutOfHealth(sql, agentId, reports.map((r) => r.deployment_object_id));
  return outcome ? Object.defineProperty(out, 'rolloutChanged', { value: outcome, enumerable: false }) : out;
}

export async function listHealth(sql: Sql, query: HealthQuery): Promise<DeploymentHealth[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.deploymentObjectId !== undefined) where.push(`h.deployment_object_id = $${params.push(uuidParam(query.deploymentObjectId))}`);
  if (query.stackId !== undefined) where.push(`o.stack_id = $${params.push(uuidParam(query.stackId))}`);
  if (query.agentId !== undefined) where.push(`h.agent_id = $${params.push(uuidParam(query.agentId))}`);
  return sql.rows<DeploymentHealth>(
    `SELECT ${qualified(HEALTH_COLUMNS, 'h')} FROM deployment_health h JOIN deployment_objects o ON o.id = h.deployment_object_id
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY o.sequence_id DESC, h.agent_id`,
    params,
  );
}
