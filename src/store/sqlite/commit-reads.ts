/** Reads behind `GET /commits/{sha}`: the objects a commit wrote, the agents of a stack, a stack's later objects. */
import type { Agent } from '../records.js';
import type { CommitObject, ObjectRef } from '../store.js';
import type { SqliteDb } from './connection.js';
import { AGENT_COLUMNS, qualified, toAgent, type AgentRow } from './rows.js';

/*
 * A prefix is a range on the commit_sha index: every sha starting with p sorts in [p, p + 'g'),
 * since the next character is a hex digit, all of which sort before 'g'.
 */
export function findCommitObjects(db: SqliteDb, shaPrefix: string): CommitObject[] {
  return db
    .stmt<Omit<CommitObject, 'is_deletion_marker'> & { is_deletion_marker: number }>(
      `SELECT p.commit_sha, p.subject, s.id AS stack_id, s.name AS stack_name, o.id AS object_id, o.sequence_id, o.is_deletion_marker
       FROM object_provenance p JOIN deployment_objects o ON o.id = p.deployment_object_id JOIN stacks s ON s.id = o.stack_id
       WHERE p.commit_sha >= @lo AND p.commit_sha < @hi ORDER BY p.commit_sha, s.name`,
    )
    .all({ lo: shaPrefix, hi: `${shaPrefix}g` })
    .map((r) => ({ ...r, is_deletion_marker: r.is_deletion_marker === 1 }));
}

/** The association rule of target-state.ts, read from the stack's side (each branch probes an agent-side index). */
export function listStackAgents(db: SqliteDb, stackId: string): Agent[] {
  return db
    .stmt<AgentRow>(
      `WITH assoc(agent_id) AS (
         SELECT agent_id FROM agent_targets WHERE stack_id = @stack
         UNION
         SELECT al.agent_id FROM stack_labels sl JOIN agent_labels al ON al.label = sl.label WHERE sl.stack_id = @stack
         UNION
         SELECT aa.agent_id FROM stack_annotations sa JOIN agent_annotations aa ON aa.key = sa.key AND aa.value = sa.value
          WHERE sa.stack_id = @stack
       )
       SELECT ${qualified(AGENT_COLUMNS, 'a')} FROM assoc JOIN agents a ON a.id = assoc.agent_id
       WHERE a.deleted_at IS NULL ORDER BY a.name, a.cluster_name`,
    )
    .all({ stack: stackId })
    .map(toAgent);
}

export function listStackObjectsFrom(db: SqliteDb, stackId: string, fromSequence: number): ObjectRef[] {
  return db
    .stmt<{ id: string; sequence_id: number; is_deletion_marker: number }>(
      `SELECT id, sequence_id, is_deletion_marker FROM deployment_objects
       WHERE stack_id = ? AND sequence_id >= ? ORDER BY sequence_id DESC`,
    )
    .all(stackId, fromSequence)
    .map((r) => ({ ...r, is_deletion_marker: r.is_deletion_marker === 1 }));
}
