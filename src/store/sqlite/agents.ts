/** Agents and their targets: create, read, update, heartbeat, soft delete (the trigger soft-deletes their events). */
import type { Agent, AgentTarget } from '../records.js';
import { NotFoundError, type HeartbeatReport } from '../store.js';
import type { SqliteDb } from './connection.js';
import { guarded } from './errors.js';
import { AGENT_COLUMNS, type AgentRow, nowIso, toAgent } from './rows.js';

function requireLiveAgent(db: SqliteDb, id: string): Agent {
  const agent = getAgent(db, id);
  if (!agent) throw new NotFoundError(`agent ${id} not found`);
  return agent;
}

export function createAgent(db: SqliteDb, input: { name: string; cluster_name: string; pak_hash: string }): Agent {
  return guarded(`agent '${input.name}' in cluster '${input.cluster_name}'`, () =>
    toAgent(
      db
        .stmt<AgentRow>(`INSERT INTO agents (name, cluster_name, pak_hash) VALUES (?, ?, ?) RETURNING ${AGENT_COLUMNS}`)
        .get(input.name, input.cluster_name, input.pak_hash)!,
    ),
  );
}

export function getAgent(db: SqliteDb, id: string, opts: { includeDeleted?: boolean } = {}): Agent | null {
  const sql = opts.includeDeleted
    ? `SELECT ${AGENT_COLUMNS} FROM agents WHERE id = ?`
    : `SELECT ${AGENT_COLUMNS} FROM agents WHERE id = ? AND deleted_at IS NULL`;
  const row = db.stmt<AgentRow>(sql).get(id);
  return row ? toAgent(row) : null;
}

export function listAgents(db: SqliteDb, filter: { name?: string; cluster_name?: string; includeDeleted?: boolean } = {}): Agent[] {
  // NULL parameters switch a condition off, so one cached statement serves every filter.
  return db
    .stmt<AgentRow>(
      `SELECT ${AGENT_COLUMNS} FROM agents
       WHERE (@name IS NULL OR name = @name) AND (@cluster IS NULL OR cluster_name = @cluster) AND (@all = 1 OR deleted_at IS NULL)
       ORDER BY name, cluster_name, created_at`,
    )
    .all({ name: filter.name ?? null, cluster: filter.cluster_name ?? null, all: filter.includeDeleted ? 1 : 0 })
    .map(toAgent);
}

export function updateAgent(db: SqliteDb, id: string, patch: { name?: string; cluster_name?: string; status?: string }): Agent {
  return db.tx(() => {
    const agent = requireLiveAgent(db, id);
    const next = { name: patch.name ?? agent.name, cluster_name: patch.cluster_name ?? agent.cluster_name, status: patch.status ?? agent.status };
    guarded(`agent '${next.name}' in cluster '${next.cluster_name}'`, () =>
      db.stmt('UPDATE agents SET name = ?, cluster_name = ?, status = ? WHERE id = ?').run(next.name, next.cluster_name, next.status, id),
    );
    // Re-read: RETURNING would show updated_at from before the AFTER UPDATE trigger ran.
    return requireLiveAgent(db, id);
  });
}

export function setAgentPakHash(db: SqliteDb, id: string, pakHash: string): Agent {
  return db.tx(() => {
    requireLiveAgent(db, id);
    db.stmt('UPDATE agents SET pak_hash = ? WHERE id = ?').run(pakHash, id);
    return requireLiveAgent(db, id);
  });
}

export function recordHeartbeat(db: SqliteDb, id: string, report?: HeartbeatReport): void {
  const now = nowIso();
  const { changes } = report
    ? db
        .stmt(
          `UPDATE agents SET last_heartbeat = ?, status = 'ACTIVE', k8s_reachable = ?, k8s_api_latency_ms = ?, k8s_reported_at = ?
           WHERE id = ? AND deleted_at IS NULL`,
        )
        .run(now, report.k8s_reachable == null ? null : report.k8s_reachable ? 1 : 0, report.k8s_api_latency_ms ?? null, now, id)
    : db.stmt(`UPDATE agents SET last_heartbeat = ?, status = 'ACTIVE' WHERE id = ? AND deleted_at IS NULL`).run(now, id);
  if (changes === 0) throw new NotFoundError(`agent ${id} not found`);
}

export function softDeleteAgent(db: SqliteDb, id: string): void {
  const { changes } = db.stmt('UPDATE agents SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL').run(nowIso(), id);
  if (changes === 0) throw new NotFoundError(`agent ${id} not found`);
}

export function countAgentsByStatus(db: SqliteDb): Record<string, number> {
  const rows = db
    .stmt<{ status: string; n: number }>('SELECT status, count(*) AS n FROM agents WHERE deleted_at IS NULL GROUP BY status')
    .all();
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

export function listTargets(db: SqliteDb, agentId: string): AgentTarget[] {
  return db.stmt<AgentTarget>('SELECT id, agent_id, stack_id FROM agent_targets WHERE agent_id = ? ORDER BY stack_id').all(agentId);
}

export function addTarget(db: SqliteDb, agentId: string, stackId: string): AgentTarget {
  return db.tx(() => {
    requireLiveAgent(db, agentId);
    if (!db.stmt('SELECT 1 FROM stacks WHERE id = ? AND deleted_at IS NULL').get(stackId)) {
      throw new NotFoundError(`stack ${stackId} not found`);
    }
    return guarded(`target of agent ${agentId} on stack ${stackId}`, () =>
      db
        .stmt<AgentTarget>('INSERT INTO agent_targets (agent_id, stack_id) VALUES (?, ?) RETURNING id, agent_id, stack_id')
        .get(agentId, stackId)!,
    );
  });
}

export function removeTarget(db: SqliteDb, agentId: string, stackId: string): boolean {
  return db.stmt('DELETE FROM agent_targets WHERE agent_id = ? AND stack_id = ?').run(agentId, stackId).changes > 0;
}
