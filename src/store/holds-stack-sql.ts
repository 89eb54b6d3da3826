/** Which stacks an agent holds (its target state: SPEC §5, `GET /agents/{id}/target-state`) as SQL, the same text on both engines. */

/**
 * The ways agent `agent` holds stack `stack` (SQL expressions, e.g. `a.id`, `@stack`, `$1`), each
 * the FROM … WHERE of a lookup by the pair's keys: the stack is among its targets, or they share a
 * label, or an annotation with the same key and value.
 */
const associations = (agent: string, stack: string): string[] => [
  `FROM agent_targets t WHERE t.agent_id = ${agent} AND t.stack_id = ${stack}`,
  `FROM agent_labels al JOIN stack_labels sl ON sl.label = al.label WHERE al.agent_id = ${agent} AND sl.stack_id = ${stack}`,
  `FROM agent_annotations aa JOIN stack_annotations sa ON sa.key = aa.key AND sa.value = aa.value
              WHERE aa.agent_id = ${agent} AND sa.stack_id = ${stack}`,
];

/** Whether agent `agent` holds stack `stack`, as one predicate. */
export function holdsStackSql(agent: string, stack: string): string {
  return `(${associations(agent, stack)
    .map((from) => `EXISTS (SELECT 1 ${from})`)
    .join('\n  OR ')})`;
}

/**
 * The same predicate as one scalar subquery (PostgreSQL: the first association found ends it). For
 * a batch of reports PostgreSQL may plan holdsStackSql's EXISTS clauses, which it cannot pull up
 * from under OR, as hashed subplans: it did while the tables had no statistics yet (a new
 * database, before autovacuum's first ANALYZE), reading and hashing every row of agent_labels and
 * stack_labels at each batch, a cost that grows with the fleet (~1 ms a batch with 200 agents and
 * 1,000 labelled stacks; BENCHMARKS F12, tenth pass). A scalar subquery is never hashed: it runs
 * for each row, by index.
 */
export function holdsStackByKeysSql(agent: string, stack: string): string {
  return `((${associations(agent, stack)
    .map((from) => `SELECT true ${from}`)
    .join('\n        UNION ALL ')}
        LIMIT 1) IS NOT NULL)`;
}
