/** Which stacks an agent is associated with, and its target state (the latest object of each, newest first), on PostgreSQL. */
import type { Stack } from '../records.js';
import type { TargetStateEntry } from '../store.js';
import { STACK_COLUMNS, qualified } from '../sqlite/rows.js';
import { prepared, uuidParam, type Sql } from './pg-db.js';
import { resolveManaged } from './rollouts.js';
import { holdsStackSql } from '../holds-stack-sql.js';

/*
 * The same rule as SQLite's: a stack is associated by a target row, a shared label, or an
 * annotation equal in key AND value. Every branch starts from the agent's own rows ($1) and probes
 * an index on the stack side, so the cost grows with the agent's associations, not with the
 * number of stacks. Soft-deleted stacks keep their tags and targets: that is how their deletion
 * marker reaches the agent.
 */
const ASSOCIATED = `assoc(stack_id) AS (
  SELECT stack_id FROM agent_targets WHERE agent_id = $1
  UNION
  SELECT sl.stack_id FROM agent_labels al JOIN stack_labels sl ON sl.label = al.label WHERE al.agent_id = $1
  UNION
  SELECT sa.stack_id FROM agent_annotations aa JOIN stack_annotations sa ON sa.key = aa.key AND sa.value = aa.value
   WHERE aa.agent_id = $1
)`;

/*
 * The latest object of a stack: newest by sequence_id among its live objects and its deletion
 * markers (a generator soft delete may have soft-deleted the marker itself). The LATERAL subquery
 * walks idx_deployment_objects_stack_sequence backwards and usually stops at the first row.
 */
const LATEST = `CROSS JOIN LATERAL (
  SELECT d.id, d.sequence_id, d.stack_id FROM deployment_objects d
   WHERE d.stack_id = assoc.stack_id AND (d.deleted_at IS NULL OR d.is_deletion_marker)
   ORDER BY d.sequence_id DESC LIMIT 1) o`;

const SUCCEEDED = `EXISTS (SELECT 1 FROM agent_events e
  WHERE e.agent_id = $1 AND e.deployment_object_id = o.id AND e.status = 'SUCCESS' AND e.deleted_at IS NULL)`;

/**
 * $1 the agent id, $2 true for incremental. `managed`: the stack has a stack_rollouts row (a
 * primary-key probe), so its object depends on the agent's wave and dependencies and the
 * incremental filter is left to the rollout resolution, as on SQLite.
 */
export const PG_TARGET_STATE_SQL = `WITH ${ASSOCIATED}
SELECT o.id, o.sequence_id, o.stack_id, r.stack_id IS NOT NULL AS managed FROM assoc ${LATEST}
LEFT JOIN stack_rollouts r ON r.stack_id = o.stack_id
WHERE NOT $2::boolean OR r.stack_id IS NOT NULL OR NOT ${SUCCEEDED}
ORDER BY o.sequence_id DESC`;

const TARGET_STATE = prepared(PG_TARGET_STATE_SQL);

export async function targetStateIds(sql: Sql, agentId: string, mode: 'incremental' | 'full'): Promise<TargetStateEntry[]> {
  const rows = await sql.rows<TargetStateEntry & { managed: boolean }>(TARGET_STATE, [uuidParam(agentId), mode === 'incremental']);
  const entries = rows.map((r) => ({ id: r.id, sequence_id: r.sequence_id, stack_id: r.stack_id }));
  if (!rows.some((r) => r.managed)) return entries;
  return resolveManaged(sql, agentId, entries, new Set(rows.filter((r) => r.managed).map((r) => r.stack_id)), mode);
}

/** Live stacks associated with the agent. */
export async function listAgentStacks(sql: Sql, agentId: string): Promise<Stack[]> {
  return sql.rows<Stack>(
    `WITH ${ASSOCIATED}
     SELECT ${qualified(STACK_COLUMNS, 's')} FROM assoc JOIN stacks s ON s.id = assoc.stack_id
     WHERE s.deleted_at IS NULL ORDER BY s.name COLLATE "C"`,
    [uuidParam(agentId)],
  );
}

/** Whether the stack (deleted or not) is associated with the agent. */
export async function isStackAssociated(sql: Sql, agentId: string, stackId: string): Promise<boolean> {
  const row = await sql.one<{ yes: boolean }>(
    `SELECT ${holdsStackSql('$1', '$2')} AS yes`,
    [uuidParam(agentId), uuidParam(stackId)],
  );
  return row?.yes === true;
}

/**
 * Per live agent: target-state objects without a SUCCESS from it (pending) and those whose latest
 * event from it is a FAILURE (failed). One query for all agents: LATERAL runs the target state per agent.
 */
export async function agentDeliverySummary(sql: Sql): Promise<{ agent_id: string; pending: number; failed: number }[]> {
  return sql.rows<{ agent_id: string; pending: number; failed: number }>(
    `SELECT a.id AS agent_id, coalesce(t.pending, 0)::int AS pending, coalesce(t.failed, 0)::int AS failed
     FROM agents a
     LEFT JOIN LATERAL (
       SELECT count(*) FILTER (WHERE NOT x.ok) AS pending, count(*) FILTER (WHERE x.last_status = 'FAILURE') AS failed FROM (
         SELECT EXISTS (SELECT 1 FROM agent_events e
                 WHERE e.agent_id = a.id AND e.deployment_object_id = o.id AND e.status = 'SUCCESS' AND e.deleted_at IS NULL) AS ok,
                (SELECT e.status FROM agent_events e
                  WHERE e.agent_id = a.id AND e.deployment_object_id = o.id AND e.deleted_at IS NULL
                  ORDER BY e.seq DESC LIMIT 1) AS last_status
         FROM (SELECT stack_id FROM agent_targets WHERE agent_id = a.id
               UNION
               SELECT sl.stack_id FROM agent_labels al JOIN stack_labels sl ON sl.label = al.label WHERE al.agent_id = a.id
               UNION
               SELECT sa.stack_id FROM agent_annotations aa JOIN stack_annotations sa ON sa.key = aa.key AND sa.value = aa.value
                WHERE aa.agent_id = a.id) assoc
         ${LATEST}) x
     ) t ON TRUE
     WHERE a.deleted_at IS NULL ORDER BY a.name COLLATE "C", a.cluster_name COLLATE "C"`,
  );
}
