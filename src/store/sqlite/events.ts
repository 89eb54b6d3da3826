/** Agent events: what an agent reports about applying a deployment object. */
import type { AgentEvent } from '../records.js';
import { NotAssociatedError, NotFoundError, type EventInput, type EventQuery } from '../store.js';
import { holdsStackSql } from '../holds-stack-sql.js';
import type { SqliteDb } from './connection.js';
import { EVENT_COLUMNS } from './rows.js';
import { rolloutOfEvent } from './rollouts.js';
import type { RolloutOutcome } from '../rollout-outcome.js';

/** The event, and what it changed in a rollout (a wave released to some agents, a halt), when it did. */
export function createEvent(db: SqliteDb, input: EventInput): AgentEvent & { rolloutChanged?: RolloutOutcome } {
  return db.tx(() => {
    if (!db.stmt('SELECT 1 FROM agents WHERE id = ? AND deleted_at IS NULL').get(input.agent_id)) {
      throw new NotFoundError(`agent ${input.agent_id} not found`);
    }
    const object = db
      .stmt<{ held: number }>(`SELECT ${holdsStackSql('@agent', 'o.stack_id')} AS held FROM deployment_objects o WHERE o.id = @object`)
      .get({ agent: input.agent_id, object: input.deployment_object_id });
    if (!object) throw new NotFoundError(`deployment object ${input.deployment_object_id} not found`);
    if (input.require_association && object.held !== 1) throw new NotAssociatedError(input.agent_id, input.deployment_object_id);
    // seq given here, as the assign_agent_event_seq trigger would (it fires only for a NULL seq):
    // saves that trigger's UPDATE of the new row (the row and both seq indexes written twice).
    const event = db
      .stmt<AgentEvent>(
        `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status, message, seq)
         VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM agent_events))
         RETURNING ${EVENT_COLUMNS}`,
      )
      .get(input.agent_id, input.deployment_object_id, input.event_type, input.status, input.message)!;
    // Release rules run in the event's own transaction, so every replica sees them together.
    const outcome = rolloutOfEvent(db, input.deployment_object_id, input.agent_id);
    return outcome ? Object.defineProperty(event, 'rolloutChanged', { value: outcome, enumerable: false }) : event;
  });
}

/** Live events, newest first, optionally filtered by agent and object. */
export function listEvents(db: SqliteDb, query: EventQuery = {}): AgentEvent[] {
  // Only the filters given appear in the SQL: with `(@x IS NULL OR col = @x)` the planner cannot
  // use the agent or object index and scans every event in created_at order (~30 ms per call at
  // 100k events). Four statement texts, each cached.
  const agent = query.agentId !== undefined && query.agentId !== null;
  const object = query.deploymentObjectId !== undefined && query.deploymentObjectId !== null;
  const where = ['deleted_at IS NULL', agent ? 'agent_id = @agent' : '', object ? 'deployment_object_id = @object' : ''].filter(Boolean);
  const params: Record<string, unknown> = { limit: query.limit ?? -1 };
  if (agent) params.agent = query.agentId;
  if (object) params.object = query.deploymentObjectId;
  return db
    .stmt<AgentEvent>(
      `SELECT ${EVENT_COLUMNS} FROM agent_events
       WHERE ${where.join(' AND ')}
       ORDER BY seq DESC LIMIT @limit`,
    )
    .all(params);
}

export function getEvent(db: SqliteDb, id: string): AgentEvent | null {
  return db.stmt<AgentEvent>(`SELECT ${EVENT_COLUMNS} FROM agent_events WHERE id = ?`).get(id) ?? null;
}
