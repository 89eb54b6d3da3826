/** Agent events: what an agent reports about applying a deployment object. */
import type { AgentEvent } from '../records.js';
import { NotFoundError, type EventQuery } from '../store.js';
import type { SqliteDb } from './connection.js';
import { EVENT_COLUMNS } from './rows.js';

export function createEvent(
  db: SqliteDb,
  input: { agent_id: string; deployment_object_id: string; event_type: string; status: string; message: string | null },
): AgentEvent {
  return db.tx(() => {
    if (!db.stmt('SELECT 1 FROM agents WHERE id = ? AND deleted_at IS NULL').get(input.agent_id)) {
      throw new NotFoundError(`agent ${input.agent_id} not found`);
    }
    if (!db.stmt('SELECT 1 FROM deployment_objects WHERE id = ?').get(input.deployment_object_id)) {
      throw new NotFoundError(`deployment object ${input.deployment_object_id} not found`);
    }
    return db
      .stmt<AgentEvent>(
        `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status, message) VALUES (?, ?, ?, ?, ?)
         RETURNING ${EVENT_COLUMNS}`,
      )
      .get(input.agent_id, input.deployment_object_id, input.event_type, input.status, input.message)!;
  });
}

/** Live events, newest first, optionally filtered by agent and object. */
export function listEvents(db: SqliteDb, query: EventQuery = {}): AgentEvent[] {
  return db
    .stmt<AgentEvent>(
      `SELECT ${EVENT_COLUMNS} FROM agent_events
       WHERE deleted_at IS NULL AND (@agent IS NULL OR agent_id = @agent) AND (@object IS NULL OR deployment_object_id = @object)
       ORDER BY created_at DESC, rowid DESC LIMIT @limit`,
    )
    .all({ agent: query.agentId ?? null, object: query.deploymentObjectId ?? null, limit: query.limit ?? -1 });
}
