/** Agents and their targets on PostgreSQL: create, read, update, heartbeat, soft delete (the trigger soft-deletes their events). */
import type { Agent, AgentTarget } from '../records.js';
import { NotFoundError, type HeartbeatReport } from '../store.js';
import { AGENT_COLUMNS } from '../sqlite/rows.js';
import { guarded } from './errors.js';
import { uuidParam, type Sql } from './pg-db.js';

export async function createAgent(sql: Sql, input: { name: string; cluster_name: string; pak_hash: string }): Promise<Agent> {
  return guarded(`agent '${input.name}' in cluster '${input.cluster_name}'`, async () =>
    (await sql.one<Agent>(`INSERT INTO agents (name, cluster_name, pak_hash) VALUES ($1, $2, $3) RETURNING ${AGENT_COLUMNS}`, [
      input.name,
      input.cluster_name,
      input.pak_hash,
    ]))!,
  );
}

export async function getAgent(sql: Sql, id: string, opts: { includeDeleted?: boolean } = {}): Promise<Agent | null> {
  const row = await sql.one<Agent>(`SELECT ${AGENT_COLUMNS} FROM agents WHERE id = $1 AND ($2 OR deleted_at IS NULL)`, [
    uuidParam(id),
    opts.includeDeleted === true,
  ]);
  return row ?? null;
}

export async function listAgents(sql: Sql, filter: { name?: string; cluster_name?: string; includeDeleted?: boolean } = {}): Promise<Agent[]> {
  return sql.rows<Agent>(
    `SELECT ${AGENT_COLUMNS} FROM agents
     WHERE ($1::text IS NULL OR name = $1) AND ($2::text IS NULL OR cluster_name = $2) AND ($3 OR deleted_at IS NULL)
     ORDER BY name COLLATE "C", cluster_name COLLATE "C", created_at`,
    [filter.name ?? null, filter.cluster_name ?? null, filter.includeDeleted === true],
  );
}

/** One statement: the BEFORE UPDATE trigger sets updated_at, so RETURNING already shows it. */
export async function updateAgent(sql: Sql, id: string, patch: { name?: string; cluster_name?: string; status?: string }): Promise<Agent> {
  const row = await guarded(`agent '${patch.name ?? '(unchanged)'}' in cluster '${patch.cluster_name ?? '(unchanged)'}'`, () =>
    sql.one<Agent>(
      `UPDATE agents SET name = coalesce($2, name), cluster_name = coalesce($3, cluster_name), status = coalesce($4, status)
       WHERE id = $1 AND deleted_at IS NULL RETURNING ${AGENT_COLUMNS}`,
      [uuidParam(id), patch.name ?? null, patch.cluster_name ?? null, patch.status ?? null],
    ),
  );
  if (!row) throw new NotFoundError(`agent ${id} not found`);
  return row;
}

export async function setAgentPakHash(sql: Sql, id: string, pakHash: string): Promise<Agent> {
  const row = await sql.one<Agent>(`UPDATE agents SET pak_hash = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING ${AGENT_COLUMNS}`, [
    uuidParam(id),
    pakHash,
  ]);
  if (!row) throw new NotFoundError(`agent ${id} not found`);
  return row;
}

export async function recordHeartbeat(sql: Sql, id: string, report?: HeartbeatReport): Promise<void> {
  const changes = report
    ? await sql.run(
        `UPDATE agents SET last_heartbeat = now(), status = 'ACTIVE', k8s_reachable = $2, k8s_api_latency_ms = $3, k8s_reported_at = now()
         WHERE id = $1 AND deleted_at IS NULL`,
        [uuidParam(id), report.k8s_reachable ?? null, report.k8s_api_latency_ms == null ? null : Math.round(report.k8s_api_latency_ms)],
      )
    : await sql.run(`UPDATE agents SET last_heartbeat = now(), status = 'ACTIVE' WHERE id = $1 AND deleted_at IS NULL`, [uuidParam(id)]);
  if (changes === 0) throw new NotFoundError(`agent ${id} not found`);
}

export async function softDeleteAgent(sql: Sql, id: string): Promise<void> {
  const changes = await sql.run('UPDATE agents SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL', [uuidParam(id)]);
  if (changes === 0) throw new NotFoundError(`agent ${id} not found`);
}

export async function countAgentsByStatus(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql.rows<{ status: string; n: number }>('SELECT status, count(*) AS n FROM agents WHERE deleted_at IS NULL GROUP BY status');
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

export async function listTargets(sql: Sql, agentId: string): Promise<AgentTarget[]> {
  return sql.rows<AgentTarget>('SELECT id, agent_id, stack_id FROM agent_targets WHERE agent_id = $1 ORDER BY stack_id', [uuidParam(agentId)]);
}

export async function addTarget(sql: Sql, agentId: string, stackId: string): Promise<AgentTarget> {
  if (!(await sql.one('SELECT 1 FROM agents WHERE id = $1 AND deleted_at IS NULL FOR SHARE', [uuidParam(agentId)]))) {
    throw new NotFoundError(`agent ${agentId} not found`);
  }
  if (!(await sql.one('SELECT 1 FROM stacks WHERE id = $1 AND deleted_at IS NULL FOR SHARE', [uuidParam(stackId)]))) {
    throw new NotFoundError(`stack ${stackId} not found`);
  }
  return guarded(`target of agent ${agentId} on stack ${stackId}`, async () =>
    (await sql.one<AgentTarget>('INSERT INTO agent_targets (agent_id, stack_id) VALUES ($1, $2) RETURNING id, agent_id, stack_id', [agentId, stackId]))!,
  );
}

export async function removeTarget(sql: Sql, agentId: string, stackId: string): Promise<boolean> {
  return (await sql.run('DELETE FROM agent_targets WHERE agent_id = $1 AND stack_id = $2', [uuidParam(agentId), uuidParam(stackId)])) > 0;
}
