/** Deployment health (brokkr's model): one row per (agent, object), the agent's latest report, upserted. */
import type { DeploymentHealth } from '../records.js';
import { NotFoundError, type HealthQuery, type HealthReport } from '../store.js';
import type { SqliteDb } from './connection.js';
import { qualified } from './rows.js';
import { NOW_SQL, isoSql } from './sql-fragments.js';
import { rolloutOfHealth } from './rollouts.js';
import type { RolloutOutcome } from '../rollout-outcome.js';

export const HEALTH_COLUMNS = 'id, agent_id, deployment_object_id, status, summary, checked_at, created_at, updated_at';

/**
 * All reports or none: the agent and every object are checked first. updated_at is written by the
 * upsert itself (the touch trigger then finds it current), so RETURNING shows the stored value.
 */
export function reportHealth(db: SqliteDb, agentId: string, reports: readonly HealthReport[]): DeploymentHealth[] & { rolloutChanged?: RolloutOutcome } {
  return db.tx(() => {
    if (!db.stmt('SELECT 1 FROM agents WHERE id = ? AND deleted_at IS NULL').get(agentId)) throw new NotFoundError(`agent ${agentId} not found`);
    const exists = db.stmt('SELECT 1 FROM deployment_objects WHERE id = ?');
    const upsert = db.stmt<DeploymentHealth>(
      `INSERT INTO deployment_health (agent_id, deployment_object_id, status, summary, checked_at)
       VALUES (@agent, @object, @status, @summary, coalesce(${isoSql('@checked')}, ${NOW_SQL}))
       ON CONFLICT (agent_id, deployment_object_id) DO UPDATE SET
         status = excluded.status, summary = excluded.summary, checked_at = excluded.checked_at, updated_at = ${NOW_SQL}
       RETURNING ${HEALTH_COLUMNS}`,
    );
    const rows = reports.map((r) => {
      if (!exists.get(r.deployment_object_id)) throw new NotFoundError(`deployment object ${r.deployment_object_id} not found`);
      return upsert.get({ agent: agentId, object: r.deployment_object_id, status: r.status, summary: r.summary, checked: r.checked_at })!;
    });
    // `gate: healthy` rollouts re-evaluate in the report's own transaction, as on an event.
    const outcome = rolloutOfHealth(db, agentId, reports.map((r) => r.deployment_object_id));
    return outcome ? Object.defineProperty(rows, 'rolloutChanged', { value: outcome, enumerable: false }) : rows;
  });
}

export function listHealth(db: SqliteDb, query: HealthQuery): DeploymentHealth[] {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (query.deploymentObjectId !== undefined) (where.push('h.deployment_object_id = @object'), (params.object = query.deploymentObjectId));
  if (query.stackId !== undefined) (where.push('o.stack_id = @stack'), (params.stack = query.stackId));
  if (query.agentId !== undefined) (where.push('h.agent_id = @agent'), (params.agent = query.agentId));
  return db
    .stmt<DeploymentHealth>(
      `SELECT ${qualified(HEALTH_COLUMNS, 'h')} FROM deployment_health h JOIN deployment_objects o ON o.id = h.deployment_object_id
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY o.sequence_id DESC, h.agent_id`,
    )
    .all(params);
}
