/** Two stacks may not share a name: one keeps it (the incumbent), every other claimant is invalid. */
import { problem, type ManifestProblem } from './manifest-problem.js';
import { compareBytes } from './stack-layout.js';
import { quote } from './rules.js';

/** A stack directory and the name its manifest gives (or the default). */
export interface NamedStack {
  dir: string;
  name: string;
}

/** A stack that claims a name another stack keeps. */
export interface DuplicateName {
  dir: string;
  name: string;
  /** Directory of the stack that keeps the name. */
  claimedBy: string;
}

/**
 * Every claimant of a shared name except the keeper. The keeper is `incumbents.get(name)` (the dir
 * of the stack that already owns the name in the database) when that dir is among the claimants;
 * otherwise the first claimant in byte order of its directory, so the result never depends on
 * input order.
 */
export function findDuplicateNames(stacks: readonly NamedStack[], incumbents?: ReadonlyMap<string, string>): DuplicateName[] {
  const byName = new Map<string, string[]>();
  for (const { dir, name } of stacks) {
    const dirs = byName.get(name);
    if (dirs) dirs.push(dir);
    else byName.set(name, [dir]);
  }
  const duplicates: DuplicateName[] = [];
  for (const [name, dirs] of byName) {
    if (dirs.length < 2) continue;
    dirs.sort(compareBytes);
    const incumbent = incumbents?.get(name);
    const keeper = incumbent !== undefined && dirs.includes(incumbent) ? incumbent : dirs[0];
    for (const dir of dirs) if (dir !== keeper) duplicates.push({ dir, name, claimedBy: keeper });
  }
  return duplicates.sort((a, b) => compareBytes(a.dir, b.dir));
}

/** The message for a duplicate, worded once. */
export function duplicateNameMessage(name: string, claimedBy: string): string {
  return `stack name ${quote(name)} is already used by the stack in ${claimedBy === '' ? 'the repository root' : quote(claimedBy)}`;
}

/** The problem to record for a duplicate, pointing at the manifest (and its `name:` line when written). */
export function duplicateNameProblem(dup: DuplicateName, manifestPath: string, nameLine: number | null): ManifestProblem {
  return problem(manifestPath, nameLine, duplicateNameMessage(dup.name, dup.claimedBy));
}
