/** Which stacks an agent is associated with, and its target state: the latest object of each, newest first. */
import type { Stack } from '../records.js';
import type { TargetStateEntry } from '../store.js';
import type { SqliteDb } from './connection.js';
import { STACK_COLUMNS, qualified } from './rows.js';
import { resolveManaged } from './rollouts.js';
import { holdsStackSql } from '../holds-stack-sql.js';

/*
 * A stack is associated with an agent by a target row, a shared label, or an annotation equal in
 * key AND value. Every branch starts from the agent's own rows and probes an index on the stack
 * side (stack_labels (label, stack_id), stack_annotations (key, value, stack_id)), so the cost
 * grows with the agent's associations, not with the number of stacks in the database.
 * Soft-deleted stacks keep their labels, annotations and targets, so they stay associated: that
 * is how their deletion marker reaches the agent.
 */
const ASSOCIATED = `assoc(stack_id) AS (
  SELECT stack_id FROM agent_targets WHERE agent_id = @agent
  UNION
  SELECT sl.stack_id FROM agent_labels al JOIN stack_labels sl ON sl.label = al.label WHERE al.agent_id = @agent
  UNION
  SELECT sa.stack_id FROM agent_annotations aa JOIN stack_annotations sa ON sa.key = aa.key AND sa.value = aa.value
   WHERE aa.agent_id = @agent
)`;

/*
 * The latest object of a stack is the newest by sequence_id among its live objects and its
 * deletion markers: a live stack delivers its newest live object; a deleted stack delivers its
 * marker (which a generator soft delete may itself have soft-deleted). Walking the
 * (stack_id, sequence_id) index backwards usually stops at the first row.
 */
const LATEST = `latest(sequence_id) AS (
  SELECT (SELECT o.sequence_id FROM deployment_objects o
           WHERE o.stack_id = assoc.stack_id AND (o.deleted_at IS NULL OR o.is_deletion_marker = 1)
           ORDER BY o.sequence_id DESC LIMIT 1)
  FROM assoc
)`;

const SUCCEEDED = `EXISTS (SELECT 1 FROM agent_events e
  WHERE e.agent_id = @agent AND e.deployment_object_id = o.id AND e.status = 'SUCCESS' AND e.deleted_at IS NULL)`;

/*
 * `managed` marks stacks with a stack_rollouts row (one primary-key probe each): their object
 * depends on the agent's wave and dependencies, so the incremental filter is left to the rollout
 * resolution. Without any, the answer is the plain latest objects, as before rollouts existed.
 */
export const TARGET_STATE_SQL = `WITH ${ASSOCIATED}, ${LATEST}
SELECT o.id, o.sequence_id, o.stack_id, r.stack_id IS NOT NULL AS managed FROM latest JOIN deployment_objects o ON o.sequence_id = latest.sequence_id
LEFT JOIN stack_rollouts r ON r.stack_id = o.stack_id
WHERE @incremental = 0 OR r.stack_id IS NOT NULL OR NOT ${SUCCEEDED}
ORDER BY o.sequence_id DESC`;

export function targetStateIds(db: SqliteDb, agentId: string, mode: 'incremental' | 'full'): TargetStateEntry[] {
  const rows = db
    .stmt<TargetStateEntry & { managed: number }>(TARGET_STATE_SQL)
    .all({ agent: agentId, incremental: mode === 'incremental' ? 1 : 0 });
  const entries = rows.map((r) => ({ id: r.id, sequence_id: r.sequence_id, stack_id: r.stack_id }));
  if (!rows.some((r) => r.managed === 1)) return entries;
  return resolveManaged(db, agentId, entries, new Set(rows.filter((r) => r.managed === 1).map((r) => r.stack_id)), mode);
}

/** Live stacks associated with the agent. */
export function listAgentStacks(db: SqliteDb, agentId: string): Stack[] {
  return db
    .stmt<Stack>(
      `WITH ${ASSOCIATED}
       SELECT ${qualified(STACK_COLUMNS, 's')} FROM assoc JOIN stacks s ON s.id = assoc.stack_id
       WHERE s.deleted_at IS NULL ORDER BY s.name`,
    )
    .all({ agent: agentId });
}

/** Whether the stack (deleted or not) is associated with the agent. */
export function isStackAssociated(db: SqliteDb, agentId: string, stackId: string): boolean {
  const row = db
    .stmt<{ yes: number }>(
      `SELECT ${holdsStackSql('@agent', '@stack')} AS yes`,
    )
    .get({ agent: agentId, stack: stackId })!;
  return row.yes === 1;
}

/**
 * Per live agent: target-state objects without a SUCCESS from it (pending) and those whose latest
 * event from it is a FAILURE (failed). One target-state query per agent; agents are few.
 */
export function agentDeliverySummary(db: SqliteDb): { agent_id: string; pending: number; failed: number }[] {
  const agents = db.stmt<{ id: string }>('SELECT id FROM agents WHERE deleted_at IS NULL ORDER BY name, cluster_name').all();
  const perAgent = db.stmt<{ pending: number; failed: number }>(
    `WITH ${ASSOCIATED}, ${LATEST}
     SELECT coalesce(sum(NOT ok), 0) AS pending, coalesce(sum(last_status = 'FAILURE'), 0) AS failed FROM (
       SELECT ${SUCCEEDED} AS ok,
         (SELECT e.status FROM agent_events e
           WHERE e.agent_id = @agent AND e.deployment_object_id = o.id AND e.deleted_at IS NULL
           ORDER BY e.seq DESC LIMIT 1) AS last_status
       FROM latest JOIN deployment_objects o ON o.sequence_id = latest.sequence_id)`,
  );
  return agents.map((a) => ({ agent_id: a.id, ...perAgent.get({ agent: a.id })! }));
}
