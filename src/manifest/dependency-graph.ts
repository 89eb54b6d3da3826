/** `dependsOn` across stacks (SPEC §10): unknown names and cycles, worded once for sync and lint. */
import type { BuiltStack } from './build-stack.js';
import { closestWord } from './closest-word.js';
import { problem } from './manifest-problem.js';
import { quote } from './rules.js';

/** A stack's name and the names it depends on. */
export interface DependencyNode {
  name: string;
  dependsOn: readonly string[];
}

/**
 * Problems per stack name, for the stacks named in `check` only (the graph may hold others, e.g.
 * the stored stacks a commit did not touch). A name is known when it is a node or `isKnown` says
 * so (a stack of another repository). A cycle is spelled out from the checked stack: `a → b → a`.
 */
export function dependencyProblems(
  nodes: readonly DependencyNode[],
  check: ReadonlySet<string>,
  isKnown: (name: string) => boolean = () => false,
): Map<string, string[]> {
  const graph = new Map(nodes.map((n) => [n.name, n.dependsOn]));
  const names = [...graph.keys()];
  const result = new Map<string, string[]>();
  const add = (name: string, message: string) => result.set(name, [...(result.get(name) ?? []), message]);
  for (const name of check) {
    for (const dep of graph.get(name) ?? []) {
      if (graph.has(dep) || isKnown(dep)) continue;
      const suggestion = closestWord(dep, names);
      add(name, `dependsOn names unknown stack ${quote(dep)}${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`);
    }
    const cycle = cycleFrom(graph, name);
    if (cycle) add(name, `dependsOn cycle: ${cycle.join(' → ')}`);
  }
  return result;
}

/** The shortest path name → … → name along dependsOn edges, or null (breadth first, deterministic). */
function cycleFrom(graph: ReadonlyMap<string, readonly string[]>, start: string): string[] | null {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const at = queue.shift()!;
    for (const dep of graph.get(at) ?? []) {
      if (dep === start) {
        const chain: string[] = [];
        for (let n = at; n !== start; n = previous.get(n)!) chain.unshift(n);
        return [start, ...chain, start];
      }
      if (!previous.has(dep) && graph.has(dep)) {
        previous.set(dep, at);
        queue.push(dep);
      }
    }
  }
  return null;
}

/** Order names so that dependencies come first (stable for the rest; cycles broken by input order). */
export function dependencyOrder<T extends DependencyNode>(nodes: readonly T[]): T[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: T[] = [];
  const visit = (n: T) => {
    if (done.has(n.name) || visiting.has(n.name)) return;
    visiting.add(n.name);
    for (const dep of n.dependsOn) {
      const d = byName.get(dep);
      if (d) visit(d);
    }
    visiting.delete(n.name);
    done.add(n.name);
    out.push(n);
  };
  for (const n of nodes) visit(n);
  return out;
}

/**
 * Mark the built stacks whose dependsOn names an unknown stack or closes a cycle as invalid, at
 * their `dependsOn:` line. `others` are stacks not built here (stored ones a commit did not touch);
 * a built stack replaces an other of the same name. Does nothing when no built stack has dependsOn.
 */
export function applyDependencyRules(
  stacks: BuiltStack[],
  others: readonly DependencyNode[] = [],
  isKnown?: (name: string) => boolean,
): BuiltStack[] {
  const named = stacks.filter((s) => s.manifest !== null && s.problems.length === 0);
  const declaring = named.filter((s) => (s.manifest!.dependsOn ?? []).length > 0);
  if (declaring.length === 0) return stacks;
  const nodes = new Map<string, DependencyNode>(others.map((o) => [o.name, o]));
  for (const s of named) nodes.set(s.manifest!.name, { name: s.manifest!.name, dependsOn: s.manifest!.dependsOn ?? [] });
  const found = dependencyProblems([...nodes.values()], new Set(declaring.map((s) => s.manifest!.name)), isKnown);
  for (const s of declaring) {
    for (const message of found.get(s.manifest!.name) ?? []) s.problems.push(problem(s.manifestPath, s.dependsOnLine ?? null, message));
    if (found.has(s.manifest!.name)) {
      s.content = null;
      s.checksum = null;
    }
  }
  return stacks;
}
