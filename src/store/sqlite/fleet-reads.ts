/** Fleet-wide reads for dashboards on SQLite: every live agent's association inputs and full target state, batched. */
import type { AgentAssociationInputs, TargetStateEntry } from '../store.js';
import { groupByAgent } from '../group-by-agent.js';
import type { SqliteDb } from './connection.js';
import { annotationsByOwner, labelsByOwner } from './owner-tags.js';

export function agentAssociationInputs(db: SqliteDb): AgentAssociationInputs[] {
  const agents = db.stmt<{ id: string }>('SELECT id FROM agents WHERE deleted_at IS NULL ORDER BY id').all();
  const labels = labelsByOwner(db, 'agent');
  const annotations = annotationsByOwner(db, 'agent');
  const targets = new Map<string, string[]>();
  for (const t of db.stmt<{ agent_id: string; stack_id: string }>('SELECT agent_id, stack_id FROM agent_targets ORDER BY agent_id, stack_id').all()) {
    const list = targets.get(t.agent_id);
    if (list) list.push(t.stack_id);
    else targets.set(t.agent_id, [t.stack_id]);
  }
  return agents.map(({ id }) => ({
    agent_id: id,
    labels: [...(labels.get(id) ?? [])].sort(),
    annotations: annotations.get(id) ?? {},
    targets: targets.get(id) ?? [],
  }));
}

/*
 * The association rule of target-state.ts for every agent at once: (agent, stack) pairs from
 * targets, shared labels and equal annotations; the latest object (markers included) of each
 * stack that any agent holds is found once, not once per agent.
 */
const FLEET_TARGET_STATES_SQL = `
WITH assoc(agent_id, stack_id) AS (
  SELECT agent_id, stack_id FROM agent_targets
  UNION
  SELECT al.agent_id, sl.stack_id FROM agent_labels al JOIN stack_labels sl ON sl.label = al.label
  UNION
  SELECT aa.agent_id, sa.stack_id FROM agent_annotations aa JOIN stack_annotations sa ON sa.key = aa.key AND sa.value = aa.value
),
held(stack_id) AS (SELECT DISTINCT stack_id FROM assoc),
latest(stack_id, sequence_id) AS (
  SELECT held.stack_id, (SELECT o.sequence_id FROM deployment_objects o
           WHERE o.stack_id = held.stack_id AND (o.deleted_at IS NULL OR o.is_deletion_marker = 1)
           ORDER BY o.sequence_id DESC LIMIT 1)
  FROM held
)
SELECT a.agent_id, o.id, o.sequence_id, o.stack_id
FROM assoc a
JOIN agents g ON g.id = a.agent_id AND g.deleted_at IS NULL
JOIN latest l ON l.stack_id = a.stack_id
JOIN deployment_objects o ON o.sequence_id = l.sequence_id
ORDER BY a.agent_id, o.sequence_id DESC`;

export function fullTargetStates(db: SqliteDb): Map<string, TargetStateEntry[]> {
  return groupByAgent(db.stmt<TargetStateEntry & { agent_id: string }>(FLEET_TARGET_STATES_SQL).all());
}
