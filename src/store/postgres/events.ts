/** Agent events on PostgreSQL: what an agent reports about applying a deployment object. */
import type { AgentEvent } from '../records.js';
import { NotFoundError, type EventQuery } from '../store.js';
import { EVENT_COLUMNS } from '../sqlite/rows.js';
import { uuidParam, type Sql } from './pg-db.js';
import { rolloutOfEvent } from './rollouts.js';
import type { RolloutOutcome } from '../rollout-outcome.js';

/** Call inside a transaction: the checks and the insert see one state. */
export async function createEvent(
  sql: Sql,
  input: { agent_id: string; deployment_object_id: string; event_type: string; status: string; message: string | null },
): Promise<AgentEvent & { rolloutChanged?: RolloutOutcome }> {
  if (!(await sql.one('SELECT 1 FROM agents WHERE id = $1 AND deleted_at IS NULL FOR SHARE', [uuidParam(input.agent_id)]))) {
    throw new NotFoundError(`agent ${input.agent_id} not found`);
  }
  if (!(await sql.one('SELECT 1 FROM deployment_objects WHERE id = $1', [uuidParam(input.deployment_object_id)]))) {
    throw new NotFoundError(`deployment object ${input.deployment_object_id} not found`);
  }
  const event = (await sql.one<AgentEvent>(
    `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status, message) VALUES ($1, $2, $3, $4, $5)
     RETURNING ${EVENT_COLUMNS}`,
    [input.agent_id, input.deployment_object_id, input.event_type, input.status, input.message],
  ))!;
  // Release rules run in the event's own transaction (the rollout row locked), as on SQLite.
  const outcome = await rolloutOfEvent(sql, input.deployment_object_id, input.agent_id);
  return outcome ? Object.defineProperty(event, 'rolloutChanged', { value: outcome, enumerable: false }) : event;
}

/** Live events, newest first (by seq), optionally filtered by agent and object. */
export async function listEvents(sql: Sql, query: EventQuery = {}): Promise<AgentEvent[]> {
  // Only the filters given appear in the SQL, so the planner can use the (agent_id, seq) index.
  const params: unknown[] = [query.limit ?? null];
  const where = ['deleted_at IS NULL'];
  if (query.agentId !== undefined && query.agentId !== null) where.push(`agent_id = $${params.push(uuidParam(query.agentId))}`);
  if (query.deploymentObjectId !== undefined && query.deploymentObjectId !== null) {
    where.push(`deployment_object_id = $${params.push(uuidParam(query.deploymentObjectId))}`);
  }
  return sql.rows<AgentEvent>(`SELECT ${EVENT_COLUMNS} FROM agent_events WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT $1`, params);
}

export async function getEvent(sql: Sql, id: string): Promise<AgentEvent | null> {
  return (await sql.one<AgentEvent>(`SELECT ${EVENT_COLUMNS} FROM agent_events WHERE id = $1`, [uuidParam(id)])) ?? null;
}
