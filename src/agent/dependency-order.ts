/**
 * The order one target state is applied in (SPEC §10 dependsOn): oldest sequence first, except that
 * a stack's object waits for the objects of the stacks it depends on in the same pass, and a
 * deletion marker waits for the markers of the stacks that depend on it (dependents go first).
 *
 * The daemon already holds a dependent's new object back until its dependencies passed the gate on
 * this agent; this order covers what reaches the agent together anyway (a first full pass, a
 * daemon that does not hold back, markers). A cycle (refused by sync) falls back to sequence order.
 */
export interface OrderedObject {
  stack_id: string;
  sequence_id: number;
  is_deletion_marker: boolean;
}

export function dependencyOrder<T extends OrderedObject>(objects: readonly T[], nameOf: (stackId: string) => string | undefined, dependsOn: (stackId: string) => readonly string[]): T[] {
  const bySeq = [...objects].sort((a, b) => a.sequence_id - b.sequence_id);
  if (bySeq.length < 2) return bySeq;
  const byName = new Map<string, T[]>();
  for (const o of bySeq) {
    const name = nameOf(o.stack_id);
    if (name !== undefined) byName.set(name, [...(byName.get(name) ?? []), o]);
  }
  // before.get(o): the objects of this pass that must go before o.
  const before = new Map<T, Set<T>>(bySeq.map((o) => [o, new Set<T>()]));
  for (const o of bySeq) {
    for (const dep of dependsOn(o.stack_id)) {
      for (const d of byName.get(dep) ?? []) {
        if (d === o) continue;
        if (!o.is_deletion_marker && !d.is_deletion_marker) before.get(o)!.add(d); // deploy the dependency first
        else if (o.is_deletion_marker && d.is_deletion_marker) before.get(d)!.add(o); // delete the dependent first
      }
    }
  }
  const out: T[] = [];
  const done = new Set<T>();
  while (out.length < bySeq.length) {
    const next = bySeq.find((o) => !done.has(o) && [...before.get(o)!].every((d) => done.has(d))) ?? bySeq.find((o) => !done.has(o))!; // a cycle: oldest first
    done.add(next);
    out.push(next);
  }
  return out;
}
