/** Agent events on PostgreSQL: what an agent reports about applying a deployment object. */
import type { AgentEvent } from '../records.js';
import { NotFoundError, type EventQuery } from '../store.js';
import { EVENT_COLUMNS } from '../sqlite/rows.js';
import { uuidParam, type Sql } from './pg-db.js';
import { rolloutOfEvent } from './rollouts.js';
import type { RolloutOutcome } from '../rollout-outcome.js';

/**
 * Call inside a transaction: the checks and the insert see one state. They are one statement, one
 * round trip instead of three: at 1,000 reports a second each round trip costs the API's thread a
 * socket write and a wake-up (BENCHMARKS F12, scenario 12b).
 */
export async function createEvent(
  sql: Sql,
  input: { agent_id: string; deployment_object_id: string; event_type: string; status: string; message: string | null },
): Promise<AgentEvent & { rolloutChanged?: RolloutOutcome }> {
  const row = (await sql.one<AgentEvent & { agent_found: boolean; object_found: boolean }>(
    `WITH a AS (SELECT id FROM agents WHERE id = $1 AND deleted_at IS NULL FOR SHARE),
          o AS (SELECT id FROM deployment_objects WHERE id = $2),
          ins AS (INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status, message)
                  SELECT a.id, o.id, $3, $4, $5 FROM a, o
                  RETURNING ${EVENT_COLUMNS})
     SELECT EXISTS (SELECT 1 FROM a) AS agent_found, EXISTS (SELECT 1 FROM o) AS object_found, ins.*
     FROM (SELECT 1) one LEFT JOIN ins ON true`,
    [uuidParam(input.agent_id), uuidParam(input.deployment_object_id), input.event_type, input.status, input.message],
  ))!;
  if (!row.agent_found) throw new NotFoundError(`agent ${input.agent_id} not found`);
  if (!row.object_found) throw new NotFoundError(`deployment object ${input.deployment_object_id} not found`);
  const { agent_found: _a, object_found: _o, ...event } = row;
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
