/**
 * Pipeline step 5 — plan: compare the built stacks with the stored state and decide what the
 * commit does to the database: new objects, row updates, renames, deletions and errors.
 *
 * Identity follows the name: a stored stack whose directory disappears (or whose `name:` changes)
 * "leaves"; a stack elsewhere claiming its name takes the row over (a rename keeping `name:`),
 * otherwise it is soft-deleted. A name held by a stack that stays is never taken: the newcomer
 * gets an error and the incumbent is untouched. An invalid stack never changes its stored row.
 */
import type { CommitInfo } from '../store/records.js';
import type { CommitPlan, NameHolder, StackUpsert, SyncedStack } from '../store/store.js';
import { applyDependencyRules, compareBytes, duplicateNameProblem, type ManifestProblem, type StackManifest } from '../manifest/index.js';
import type { RolloutConfig } from '../store/rollout-records.js';
import type { BuiltStack, BuiltStacks } from './build-step.js';
import { repoPath } from './git-reads.js';
import type { SyncEnv } from './sync-env.js';
import type { SyncView } from './sync-view.js';
import type { StackError } from './sync-report.js';

export interface PlannedCommit {
  built: BuiltStacks;
  plan: CommitPlan;
  /** The stored stacks plan.deletes removes. */
  deleted: SyncedStack[];
}

export async function planStep(env: SyncEnv, built: BuiltStacks, view: SyncView): Promise<PlannedCommit> {
  const { commit: gitCommit } = built.affected.step;
  const commit: CommitInfo = {
    sha: gitCommit.sha,
    author_name: gitCommit.author_name,
    author_email: gitCommit.author_email,
    subject: gitCommit.subject,
    committed_at: gitCommit.committed_at,
  };
  const { byName } = view;
  const dirs = [...built.stacks.keys()].sort(compareBytes); // byte order, as lint's duplicate check

  // Stored stacks that leave their directory in this commit.
  const leaving = new Map<string, SyncedStack>();
  for (const dir of built.affected.gone) {
    const stored = view.stacks.get(dir);
    if (stored) leaving.set(stored.id, stored);
  }
  await checkDependencies(env, built, view, leaving);
  const valid = new Map<string, ValidStack>();
  for (const dir of dirs) {
    const v = validOf(built.stacks.get(dir)!);
    if (v) valid.set(dir, v);
    const stored = view.stacks.get(dir);
    if (stored && v && v.name !== stored.name) leaving.set(stored.id, stored);
  }

  const foreign = await foreignNames(env, [...valid.values()], byName);
  const taken = new Set<string>(); // ids of leaving stacks taken over by a rename
  const claimed = new Map<string, string>(); // name -> directory claiming it in this commit
  const upserts: StackUpsert[] = [];
  const errors = new Map<string, StackError[]>();
  const fail = (dir: string, name: string | null, problems: ManifestProblem[]) =>
    errors.set(
      dir,
      problems.map((p) => ({ stack_path: dir, stack_name: name, commit_sha: commit.sha, file: p.file, line: p.line, message: p.message })),
    );
  const duplicate = (dir: string, b: BuiltStack, name: string, claimedBy: string) =>
    fail(dir, name, [
      duplicateNameProblem({ dir: b.dir, name, claimedBy: repoPath(env.root, claimedBy) }, b.manifestPath, b.nameLine),
    ]);

  for (const dir of dirs) {
    const raw = built.stacks.get(dir)!;
    const b = valid.get(dir);
    const here = view.stacks.get(dir);
    if (!b) {
      const name = raw.manifest?.name ?? null;
      fail(dir, name ?? here?.name ?? null, raw.problems);
      // The manifest still names the stack: if that stack just left its old directory, this is
      // a rename with broken content. Move the row (keeping its last good object) rather than
      // delete it, which would remove the stack from every cluster because of a typo.
      const holder = name !== null ? byName.get(name) : undefined;
      if (!here && holder && leaving.has(holder.id) && !taken.has(holder.id) && !claimed.has(holder.name)) {
        taken.add(holder.id);
        claimed.set(holder.name, dir);
        upserts.push({ ...rowOf(holder), path: dir });
      } else if (here && !leaving.has(here.id)) claimed.set(here.name, dir);
      continue;
    }
    if (here && here.name === b.name) {
      claimed.set(b.name, dir);
      pushUpdate(here, b, dir);
      continue;
    }
    const holder = byName.get(b.name);
    const claimant = claimed.get(b.name);
    if (claimant !== undefined) {
      duplicate(dir, raw, b.name, claimant);
    } else if (holder && holder.path !== dir && !(leaving.has(holder.id) && !taken.has(holder.id))) {
      duplicate(dir, raw, b.name, holder.path);
    } else if (holder && holder.path !== dir) {
      taken.add(holder.id);
      claimed.set(b.name, dir);
      pushUpdate(holder, b, dir);
    } else if (foreign.has(b.name)) {
      const other = foreign.get(b.name)!;
      const where = other.path === null ? '' : ` (the stack in "${other.path === '' ? '.' : other.path}")`;
      fail(dir, b.name, [
        { file: raw.manifestPath, line: raw.nameLine, message: `stack name "${b.name}" is already used by repository ${other.repository}${where}; the stack that had it keeps it` },
      ]);
    } else {
      claimed.set(b.name, dir);
      upserts.push({
        name: b.name,
        path: dir,
        description: b.description,
        labels: b.labels,
        annotations: b.annotations,
        content: { yaml: b.content, checksum: b.checksum },
        ...(b.rollout ? { rollout: b.rollout } : {}),
      });
    }
  }

  function pushUpdate(stored: SyncedStack, b: ValidStack, dir: string): void {
    const fields = changedFields(stored, { ...b, path: dir });
    const newContent = stored.latest_checksum !== b.checksum;
    if (fields.length === 0 && !newContent) return;
    upserts.push({
      id: stored.id,
      name: b.name,
      path: dir,
      description: b.description,
      labels: b.labels,
      annotations: b.annotations,
      ...(newContent ? { content: { yaml: b.content, checksum: b.checksum } } : {}),
      ...(b.rollout ? { rollout: b.rollout } : {}),
    });
  }

  // A stack whose new `name:` was refused (duplicate) is invalid, and an invalid stack keeps its
  // row and last good object: it did not leave after all.
  for (const dir of dirs) {
    const here = view.stacks.get(dir);
    if (here && errors.has(dir) && !taken.has(here.id)) leaving.delete(here.id);
  }
  const deleted = [...leaving.values()].filter((s) => !taken.has(s.id));
  const errorEntries: CommitPlan['errors'] = [];
  for (const [dir, list] of errors) errorEntries.push({ stack_path: dir, errors: list });
  // Clear what is fixed or gone; only directories known to carry errors need a write.
  const clear = new Set([...dirs, ...built.affected.gone, ...deleted.map((s) => s.path)]);
  for (const dir of clear) {
    if (!errors.has(dir) && view.invalidDirs.has(dir)) errorEntries.push({ stack_path: dir, errors: [] });
  }

  const plan: CommitPlan = {
    generatorId: env.generatorId,
    commit,
    expectedCursor: view.cursor,
    ...(env.leaseHolder === undefined ? {} : { leaseHolder: env.leaseHolder }),
    upserts,
    deletes: deleted.map((s) => s.id),
    errors: errorEntries,
    // A large commit's contents were not kept: the store reads them in batches as it applies the plan.
    ...(built.readContents ? { readContents: built.readContents } : {}),
  };
  return { built, plan, deleted };
}

/** The row fields of a stored stack that an upsert changes, e.g. ['labels', 'path']: what decides an update here, and what report-step tells. */
export function changedFields(stored: SyncedStack, next: Pick<StackUpsert, 'path' | 'description' | 'labels' | 'annotations' | 'rollout'>): string[] {
  const fields: string[] = [];
  if ((stored.description ?? null) !== next.description) fields.push('description');
  if (!sameSet(stored.labels, next.labels)) fields.push('labels');
  if (!sameMap(stored.annotations, next.annotations)) fields.push('annotations');
  if (stored.path !== next.path) fields.push('path');
  if (JSON.stringify(stored.rollout ?? null) !== JSON.stringify(next.rollout ?? null)) fields.push('rollout');
  return fields;
}

function rowOf(s: SyncedStack): StackUpsert {
  return { id: s.id, name: s.name, path: s.path, description: s.description, labels: s.labels, annotations: s.annotations, ...(s.rollout ? { rollout: s.rollout } : {}) };
}

/** stack.yaml's rollout fields as the store keeps them; null when the manifest has none (the fast path). */
function rolloutOf(m: StackManifest): RolloutConfig | null {
  if (!m.rollout && !m.dependsOn) return null;
  return { waves: m.rollout?.waves ?? [], gate: m.rollout?.gate ?? 'success', depends_on: m.dependsOn ?? [] };
}

/**
 * dependsOn across the repository after this commit (SPEC §10): the stacks it built replace the
 * stored ones of their directory; a name held by another repository's live stack is known too.
 * Only stacks built here that declare dependsOn can be marked invalid (a cycle needs a new edge).
 */
async function checkDependencies(env: SyncEnv, built: BuiltStacks, view: SyncView, leaving: Map<string, SyncedStack>): Promise<void> {
  const stacks = [...built.stacks.values()];
  if (!stacks.some((s) => (s.manifest?.dependsOn ?? []).length > 0 && s.problems.length === 0)) return;
  const builtDirs = new Set(built.stacks.keys());
  const others = [...view.stacks.entries()]
    .filter(([dir, s]) => !builtDirs.has(dir) && !leaving.has(s.id))
    .map(([, s]) => ({ name: s.name, dependsOn: s.rollout?.depends_on ?? [] }));
  const mentioned = [...new Set(stacks.flatMap((s) => s.manifest?.dependsOn ?? []))];
  const local = new Set([...others.map((o) => o.name), ...stacks.flatMap((s) => (s.manifest ? [s.manifest.name] : []))]);
  const foreign = await env.store.stackNamesHeldByOthers(env.generatorId, mentioned.filter((n) => !local.has(n)));
  applyDependencyRules(stacks, others, (name) => foreign.has(name));
}

/** A stack without problems, flattened to what the plan compares. */
interface ValidStack {
  name: string;
  description: string | null;
  labels: string[];
  annotations: Record<string, string>;
  /** Null in a large commit: read again when the store applies it (BuiltStacks.readContents). */
  content: string | null;
  checksum: string;
  rollout: RolloutConfig | null;
}

function validOf(b: BuiltStack): ValidStack | null {
  if (b.problems.length > 0 || !b.manifest || b.checksum === null) return null;
  const { name, description, labels, annotations } = b.manifest;
  return { name, description, labels, annotations, content: b.content, checksum: b.checksum, rollout: rolloutOf(b.manifest) };
}

/** Which of the names this commit introduces are held by live stacks of other generators. */
async function foreignNames(env: SyncEnv, valid: ValidStack[], byName: Map<string, SyncedStack>): Promise<Map<string, NameHolder>> {
  const fresh = valid.filter((b) => !byName.has(b.name)).map((b) => b.name);
  if (fresh.length === 0) return new Map();
  return env.store.stackNamesHeldByOthers(env.generatorId, fresh);
}

function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && b[k] === a[k]);
}
