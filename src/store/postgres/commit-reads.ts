/** Reads behind `GET /commits/{sha}` on PostgreSQL: the objects a commit wrote, the agents of a stack, a stack's later objects. */
import type { Agent } from '../records.js';
import type { CommitObject, ObjectRef } from '../store.js';
import { AGENT_COLUMNS, qualified } from '../sqlite/rows.js';
import { uuidParam, type Sql } from './pg-db.js';

/* A prefix is a range on the commit_sha index, as on SQLite: shas starting with p sort in [p, p || 'g'). */
export async function findCommitObjects(sql: Sql, shaPrefix: string): Promise<CommitObject[]> {
  return sql.rows<CommitObject>(
    `SELECT p.commit_sha, p.subject, s.id AS stack_id, s.name AS stack_name, o.id AS object_id, o.sequence_id, o.is_deletion_marker
     FROM object_provenance p JOIN deployment_objects o ON o.id = p.deployment_object_id JOIN stacks s ON s.id = o.stack_id
     WHERE p.commit_sha >= $1 AND p.commit_sha < $2 ORDER BY p.commit_sha, s.name`,
    [shaPrefix, `${shaPrefix}g`],
  );
}

/** The association rule of target-state.ts, read from the stack's side. */
export async function listStackAgents(sql: Sql, stackId: string): Promise<Agent[]> {
  return sql.rows<Agent>(
    `WITH assoc(agent_id) AS (
       SELECT agent_id FROM agent_targets WHERE stack_id = $1
       UNION
       SELECT al.agent_id FROM stack_labels sl JOIN agent_labels al ON al.label = sl.label WHERE sl.stack_id = $1
       UNION
       SELECT aa.agent_id FROM stack_annotations sa JOIN agent_annotations aa ON aa.key = sa.key AND aa.value = sa.value
        WHERE sa.stack_id = $1
     )
     SELECT ${qualified(AGENT_COLUMNS, 'a')} FROM assoc JOIN agents a ON a.id = assoc.agent_id
     WHERE a.deleted_at IS NULL ORDER BY a.name, a.cluster_name`,
    [uuidParam(stackId)],
  );
}

export async function listStackObjectsFrom(sql: Sql, stackId: string, fromSequence: number): Promise<ObjectRef[]> {
  return sql.rows<ObjectRef>(
    `SELECT id, sequence_id, is_deletion_marker FROM deployment_objects
     WHERE stack_id = $1 AND sequence_id >= $2 ORDER BY sequence_id DESC`,
    [uuidParam(stackId), fromSequence],
  );
}
