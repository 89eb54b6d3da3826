/** Which stacks an agent holds (its target state: SPEC §5, `GET /agents/{id}/target-state`) as one SQL predicate, the same text on both engines. */

/**
 * Whether agent `agent` holds stack `stack` (SQL expressions, e.g. `a.id`, `@stack`, `$1`): the
 * stack is among its targets, or they share a label, or an annotation with the same key and value.
 */
export function holdsStackSql(agent: string, stack: string): string {
  return `(EXISTS (SELECT 1 FROM agent_targets t WHERE t.agent_id = ${agent} AND t.stack_id = ${stack})
  OR EXISTS (SELECT 1 FROM agent_labels al JOIN stack_labels sl ON sl.label = al.label WHERE al.agent_id = ${agent} AND sl.stack_id = ${stack})
  OR EXISTS (SELECT 1 FROM agent_annotations aa JOIN stack_annotations sa ON sa.key = aa.key AND sa.value = aa.value
              WHERE aa.agent_id = ${agent} AND sa.stack_id = ${stack}))`;
}
