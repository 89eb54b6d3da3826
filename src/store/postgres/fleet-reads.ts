/** Fleet-wide reads for dashboards on PostgreSQL: every live agent's association inputs and full target state, batched. */
import type { AgentAssociationInputs, TargetStateEntry } from '../store.js';
import { groupByAgent } from '../group-by-agent.js';
import type { Sql } from './pg-db.js';

export async function agentAssociationInputs(sql: Sql): Promise<AgentAssociationInputs[]> {
  return sql.rows<AgentAssociationInputs>(
    `SELECT a.id AS agent_id,
       coalesce((SELECT array_agg(l.label ORDER BY l.label) FROM agent_labels l WHERE l.agent_id = a.id), '{}') AS labels,
       coalesce((SELECT jsonb_object_agg(n.key, n.value) FROM agent_annotations n WHERE n.agent_id = a.id), '{}'::jsonb) AS annotations,
       coalesce((SELECT array_agg(t.stack_id::text ORDER BY t.stack_id::text) FROM agent_targets t WHERE t.agent_id = a.id), '{}') AS targets
     FROM agents a WHERE a.deleted_at IS NULL ORDER BY a.id`,
  );
}

/* The association rule of the per-agent target-state query, for every agent at once; see the SQLite twin. */
const FLEET_TARGET_STATES_SQL = `
WITH assoc(agent_id, stack_id) AS (
  SELECT agent_id, stack_id FROM agent_targets
  UNION
  SELECT al.agent_id, sl.stack_id FROM agent_labels al JOIN stack_labels sl ON sl.label = al.label
  UNION
  SELECT aa.agent_id, sa.stack_id FROM agent_annotations aa JOIN stack_annotations sa ON sa.key = aa.key AND sa.value = aa.value
),
latest AS (
  SELECT held.stack_id, (SELECT o.sequence_id FROM deployment_objects o
           WHERE o.stack_id = held.stack_id AND (o.deleted_at IS NULL OR o.is_deletion_marker)
           ORDER BY o.sequence_id DESC LIMIT 1) AS sequence_id
  FROM (SELECT DISTINCT stack_id FROM assoc) held
)
SELECT a.agent_id::text AS agent_id, o.id::text AS id, o.sequence_id, o.stack_id::text AS stack_id
FROM assoc a
JOIN agents g ON g.id = a.agent_id AND g.deleted_at IS NULL
JOIN latest l ON l.stack_id = a.stack_id
JOIN deployment_objects o ON o.sequence_id = l.sequence_id
ORDER BY a.agent_id, o.sequence_id DESC`;

export async function fullTargetStates(sql: Sql): Promise<Map<string, TargetStateEntry[]>> {
  return groupByAgent(await sql.rows<TargetStateEntry & { agent_id: string }>(FLEET_TARGET_STATES_SQL));
}
