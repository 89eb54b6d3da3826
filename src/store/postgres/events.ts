/** Agent events on PostgreSQL: what an agent reports about applying a deployment object. */
import { randomUUID } from 'node:crypto';
import type { AgentEvent } from '../records.js';
import { NotAssociatedError, NotFoundError, type EventInput, type EventQuery } from '../store.js';
import { holdsStackByKeysSql, holdsStackSql } from '../holds-stack-sql.js';
import { EVENT_COLUMNS } from '../sqlite/rows.js';
import { prepared, uuidParam, type Sql } from './pg-db.js';
import { rolloutOfEvent } from './rollouts.js';
import type { RolloutOutcome } from '../rollout-outcome.js';

/*
 * The statements of every report, kept prepared (pg-db.ts, `prepared`). Each checks the agent (live),
 * the object, and — for a report that requires it ($6 / $7) — that the agent holds the object's
 * stack, and writes the event only if all hold: one round trip a report, checks included.
 */
const INSERT_ONE = prepared(`WITH a AS (SELECT id FROM agents WHERE id = $1 AND deleted_at IS NULL FOR SHARE),
      o AS (SELECT id, stack_id FROM deployment_objects WHERE id = $2),
      ok AS (SELECT o.id FROM o WHERE NOT $6::boolean OR ${holdsStackSql('$1', 'o.stack_id')}),
      ins AS (INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status, message)
              SELECT a.id, ok.id, $3, $4, $5 FROM a, ok
              RETURNING ${EVENT_COLUMNS})
 SELECT EXISTS (SELECT 1 FROM a) AS agent_found, EXISTS (SELECT 1 FROM o) AS object_found, EXISTS (SELECT 1 FROM ok) AS held, ins.*
 FROM (SELECT 1) one LEFT JOIN ins ON true`);
const LOCK_ROLLOUTS = prepared('SELECT target_object_id FROM stack_rollouts WHERE target_object_id = ANY($1::uuid[]) ORDER BY target_object_id FOR UPDATE');
/** The batch's input, checks and insert as CTEs ($1…$7: ids, agents, objects, types, statuses, messages, require_association), for INSERT_MANY and INSERT_ALONE. */
const BATCH = `input AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::boolean[]) WITH ORDINALITY
         AS t (id, agent_id, object_id, event_type, status, message, checked, n)),
     a AS (SELECT id FROM agents WHERE id IN (SELECT agent_id FROM input) AND deleted_at IS NULL ORDER BY id FOR SHARE),
     o AS (SELECT id, stack_id FROM deployment_objects WHERE id IN (SELECT object_id FROM input)),
     v AS (SELECT input.*, input.agent_id IN (SELECT id FROM a) AS agent_found, o.id IS NOT NULL AS object_found,
             o.id IS NOT NULL AND (NOT input.checked OR ${holdsStackByKeysSql('input.agent_id', 'o.stack_id')}) AS held
           FROM input LEFT JOIN o ON o.id = input.object_id)`;
const INSERTED = (condition: string) => `ins AS (INSERT INTO agent_events (id, agent_id, deployment_object_id, event_type, status, message)
             SELECT v.id, v.agent_id, v.object_id, v.event_type, v.status, v.message FROM v
             WHERE v.agent_found AND v.held${condition} ORDER BY v.n
             RETURNING ${EVENT_COLUMNS})`;
const INSERT_MANY = prepared(`WITH ${BATCH},
     ${INSERTED('')}
     SELECT v.id AS input_id, v.agent_found, v.object_found, v.held, ins.*
     FROM v LEFT JOIN ins ON ins.id = v.id ORDER BY v.n`);
/*
 * The batch as one statement on its own, committing by itself: unless a rollout targets one of
 * its objects (then nothing is written, `rollout` is true), the checks, the insert, and the
 * announcement of each agent that had an event written ($8 the agents, $9 their payloads, $10
 * the channel: pg_notify, sent when the statement commits).
 */
const INSERT_ALONE = prepared(`WITH r AS (SELECT 1 FROM stack_rollouts WHERE target_object_id = ANY($3::uuid[]) LIMIT 1),
     ${BATCH},
     ${INSERTED(' AND NOT EXISTS (SELECT 1 FROM r)')},
     announced AS (SELECT pg_notify($10, p.payload) FROM unnest($8::uuid[], $9::text[]) AS p (agent_id, payload)
                   WHERE p.agent_id IN (SELECT agent_id FROM ins))
     SELECT v.id AS input_id, v.agent_found, v.object_found, v.held, EXISTS (SELECT 1 FROM r) AS rollout,
            (SELECT count(*) FROM announced) AS announced, ins.*
     FROM v LEFT JOIN ins ON ins.id = v.id ORDER BY v.n`);

/** An event as written, with what it changed of its stack's rollout (not enumerable). */
export type WrittenEvent = AgentEvent & { rolloutChanged?: RolloutOutcome };

/**
 * Call inside a transaction: the checks and the insert see one state. They are one statement, one
 * round trip instead of three: at 1,000 reports a second each round trip costs the API's thread a
 * socket write and a wake-up (BENCHMARKS F12, scenario 12b).
 */
export async function createEvent(sql: Sql, input: EventInput): Promise<WrittenEvent> {
  const row = (await sql.one<AgentEvent & { agent_found: boolean; object_found: boolean; held: boolean }>(INSERT_ONE, [
    uuidParam(input.agent_id),
    uuidParam(input.deployment_object_id),
    input.event_type,
    input.status,
    input.message,
    input.require_association === true,
  ]))!;
  if (!row.agent_found) throw new NotFoundError(`agent ${input.agent_id} not found`);
  if (!row.object_found) throw new NotFoundError(`deployment object ${input.deployment_object_id} not found`);
  if (!row.held) throw new NotAssociatedError(input.agent_id, input.deployment_object_id);
  const { agent_found: _a, object_found: _o, held: _h, ...event } = row;
  // Release rules run in the event's own transaction (the rollout row locked), as on SQLite.
  const outcome = await rolloutOfEvent(sql, input.deployment_object_id, input.agent_id);
  return outcome ? Object.defineProperty(event, 'rolloutChanged', { value: outcome, enumerable: false }) : event;
}

export type { EventInput };
/** A report that could not be written: unknown agent or object, or an object of a stack the agent does not hold. */
export type EventOutcome = { event: WrittenEvent } | { error: NotFoundError | NotAssociatedError };

/**
 * Several agents' events in the caller's transaction (the store's group commit, event-batch.ts),
 * each one's outcome in input order: its event, or NotFoundError for an agent or object that does
 * not exist, or NotAssociatedError (require_association) — that event alone is not written. Without a rollout on any of their objects they are
 * one statement, one round trip; with one, event by event as createEvent, so each report meets the
 * rollout as the reports before it left it. The rollouts are locked first, in object-id order (as
 * health reports lock them), so concurrent batches cannot deadlock with each other; one that does
 * with a change of wave membership is tried again (event-batch.ts).
 */
export async function createEvents(sql: Sql, inputs: readonly EventInput[]): Promise<EventOutcome[]> {
  const objectIds = [...new Set(inputs.map((i) => uuidParam(i.deployment_object_id)).filter((id) => id !== null))];
  const rollouts = await sql.rows(LOCK_ROLLOUTS, [objectIds]);
  if (rollouts.length > 0) {
    const outcomes: EventOutcome[] = [];
    for (const input of inputs) {
      try {
        outcomes.push({ event: await createEvent(sql, input) });
      } catch (error) {
        if (!(error instanceof NotFoundError || error instanceof NotAssociatedError)) throw error;
        outcomes.push({ error });
      }
    }
    return outcomes;
  }
  return outcomesOf(inputs, await sql.rows<BatchRow>(INSERT_MANY, batchParams(inputs)));
}

/**
 * The batch without a transaction of its own (on the pool: one statement, one round trip, which
 * commits by itself), announcing each agent that had an event written with `announcement(agentId)`
 * on `channel`. Null, with nothing written or announced, when a rollout targets one of the
 * objects: then the batch goes through createEvents, in a transaction, event by event.
 */
export async function createEventsAlone(
  sql: Sql,
  inputs: readonly EventInput[],
  channel: string,
  announcement: (agentId: string) => string,
): Promise<EventOutcome[] | null> {
  // As the database writes them (lower case), so the announcement names the agent as other replicas know it.
  const agents = [...new Set(inputs.map((i) => uuidParam(i.agent_id)?.toLowerCase()).filter((id) => id !== undefined))];
  const rows = await sql.rows<BatchRow & { rollout: boolean; announced: number }>(INSERT_ALONE, [
    ...batchParams(inputs),
    agents,
    agents.map(announcement),
    channel,
  ]);
  return rows[0]?.rollout ? null : outcomesOf(inputs, rows.map(({ rollout: _r, announced: _n, ...row }) => row));
}

type BatchRow = AgentEvent & { input_id: string; agent_found: boolean; object_found: boolean; held: boolean };

/** $1…$7 of INSERT_MANY and INSERT_ALONE. Ids made here (v4, as the column's default) tell each input its row; the insert follows the input's order, so seq does. */
function batchParams(inputs: readonly EventInput[]): unknown[] {
  return [
    inputs.map(() => randomUUID()),
    inputs.map((i) => uuidParam(i.agent_id)),
    inputs.map((i) => uuidParam(i.deployment_object_id)),
    inputs.map((i) => i.event_type),
    inputs.map((i) => i.status),
    inputs.map((i) => i.message),
    inputs.map((i) => i.require_association === true),
  ];
}

function outcomesOf(inputs: readonly EventInput[], rows: readonly BatchRow[]): EventOutcome[] {
  return rows.map((row, n): EventOutcome => {
    const input = inputs[n]!;
    if (!row.agent_found) return { error: new NotFoundError(`agent ${input.agent_id} not found`) };
    if (!row.object_found) return { error: new NotFoundError(`deployment object ${input.deployment_object_id} not found`) };
    if (!row.held) return { error: new NotAssociatedError(input.agent_id, input.deployment_object_id) };
    const { input_id: _i, agent_found: _a, object_found: _o, held: _h, ...event } = row;
    return { event };
  });
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
