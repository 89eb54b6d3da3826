/**
 * Pipeline step 4 — build: read the affected stacks' files at the commit (one tree listing per
 * stack, or one for the whole root when many changed; blobs in batches) and validate each stack
 * with the shared manifest module. Only the stacks the affected step named are read.
 *
 * A large commit (a first sync) keeps no content: each stack is validated and its checksum kept,
 * and the store asks for the contents again, batch by batch, while it applies the commit
 * (CommitPlan.readContents, answered by `readContents` here: the same blobs read again at the same
 * commit, checked against the checksum). So 100,000 stacks never have their YAML in memory at once.
 */
import type { TreeEntry } from '../git/git-source.js';
import { buildStack, layoutStacks, type BuiltStack, type StackLayout } from '../manifest/index.js';
import type { AffectedStacks } from './affected-step.js';
import { gitCall, listRootTree, repoPath, rootRelative } from './git-reads.js';
import type { SyncEnv } from './sync-env.js';
import { SyncFailureError } from './sync-report.js';
import type { StackUpsert } from '../store/store.js';

export type { BuiltStack } from '../manifest/index.js';

export interface BuiltStacks {
  affected: AffectedStacks;
  /**
   * Every directory of affected.build (root-relative) → the stack as validated at the commit.
   * With `readContents` set, valid stacks carry their checksum but `content: null`.
   */
  stacks: Map<string, BuiltStack>;
  /** Large commits: the YAML of these upserts' directories, read again at the commit (checked against their checksums). */
  readContents?: (upserts: readonly StackUpsert[]) => Promise<string[]>;
}

/** Above this many stacks one listing of the whole root is cheaper than one listing per stack. */
const LIST_WHOLE_TREE_ABOVE = 32;
/** Stacks per blob batch: bounds memory in a large snapshot and paces progress reports. */
const STACKS_PER_BATCH = 250;
/**
 * How much YAML a commit may hold in memory: above it (a first sync of ~20,000 stacks of 1.7 KiB)
 * the contents are dropped once validated and streamed to the store instead (see above). Below it
 * holding them is cheaper than reading every blob twice. A setting object so tests can lower it.
 */
export const contentBudget = { bytes: 32 * 2 ** 20 };
const SYMLINK_MODE = '120000';

export async function buildStep(env: SyncEnv, affected: AffectedStacks): Promise<BuiltStacks> {
  const stacks = new Map<string, BuiltStack>();
  if (affected.build.length === 0) return { affected, stacks };

  const listed = await listEntries(env, affected);
  affected.tree = null; // the whole listing is not needed past this point (a large snapshot's biggest array)
  const layouts = new Map<string, StackLayout>();
  // Paths from here on are repo-relative, as the manifest module reports them.
  const fullPath = env.root === '' ? (p: string) => p : (p: string) => repoPath(env.root, p);
  const all = new Map(listed.map((e) => [fullPath(e.path), e]));
  for (const layout of layoutStacks([...all.keys()], env.root)) {
    const dir = rootRelative(env.root, layout.dir);
    if (dir !== null) layouts.set(dir, layout);
  }
  // Keep only the entries of the stacks' own files (what the stacks are built from).
  const byPath = new Map<string, TreeEntry>();
  for (const dir of affected.build) {
    const layout = layouts.get(dir);
    if (!layout) continue;
    for (const path of [layout.manifestPath, ...layout.resourcePaths]) {
      const entry = all.get(path);
      if (entry) byPath.set(path, env.root === '' ? entry : { ...entry, path });
    }
  }
  all.clear();

  const readBuilt = async (dirs: readonly string[]): Promise<BuiltStack[]> => {
    const oids = new Set<string>();
    for (const dir of dirs) {
      const layout = layouts.get(dir);
      if (!layout) continue;
      for (const path of [layout.manifestPath, ...layout.resourcePaths]) {
        const entry = byPath.get(path);
        if (entry && entry.type === 'blob' && entry.mode !== SYMLINK_MODE) oids.add(entry.oid);
      }
    }
    const blobs = await gitCall(() => env.git.readBlobs([...oids], env.maxContentBytes), 'read files');
    return dirs.map((dir) =>
      buildStack({
        layout: layouts.get(dir) ?? missingLayout(env, dir),
        root: env.root,
        maxBytes: env.maxContentBytes,
        modeOf: (path) => byPath.get(path)?.mode,
        read: (path) => {
          const entry = byPath.get(path);
          return (entry && blobs.get(entry.oid)) ?? { missing: true };
        },
      }),
    );
  };

  const total = affected.build.length;
  let defer = false;
  let held = 0; // bytes of YAML held (UTF-16 code units: what V8 keeps for non-Latin-1 text, an upper bound)
  for (let start = 0; start < total; start += STACKS_PER_BATCH) {
    const dirs = affected.build.slice(start, start + STACKS_PER_BATCH);
    const built = await readBuilt(dirs);
    for (const b of built) held += b.content?.length ?? 0;
    if (!defer && held > contentBudget.bytes) {
      defer = true; // from here on only checksums are kept; drop the contents held so far too
      for (const [dir, b] of stacks) stacks.set(dir, { ...b, content: null });
    }
    dirs.forEach((dir, i) => stacks.set(dir, defer ? { ...built[i], content: null } : built[i]));
    if (affected.step.mode === 'snapshot') {
      env.onProgress?.({ phase: 'snapshot', done: Math.min(start + dirs.length, total), total });
    }
  }
  if (!defer) return { affected, stacks };

  const sha = affected.step.commit.sha;
  const readContents = async (upserts: readonly StackUpsert[]): Promise<string[]> => {
    const built = await readBuilt(upserts.map((u) => u.path));
    return upserts.map((upsert, i) => {
      const { content, checksum } = built[i];
      if (content === null || checksum !== upsert.content?.checksum) {
        throw new SyncFailureError(
          'GIT_UNAVAILABLE',
          `the files of stack ${upsert.name} ('${upsert.path}') read differently at ${sha.slice(0, 7)} than when they were validated (was the repository replaced while it was read?); nothing was changed`,
        );
      }
      return content;
    });
  };
  return { affected, stacks, readContents };
}

/** The tree entries the stacks to build need (root-relative paths). */
async function listEntries(env: SyncEnv, affected: AffectedStacks): Promise<TreeEntry[]> {
  if (affected.tree) return affected.tree;
  const sha = affected.step.commit.sha;
  if (affected.build.length > LIST_WHOLE_TREE_ABOVE || affected.build.includes('')) return listRootTree(env, sha);
  const seen = new Map<string, TreeEntry>();
  for (const dir of affected.build) {
    // A nested stack's directory lies inside its parent's listing: do not list it twice.
    if (affected.build.some((other) => other !== dir && dir.startsWith(`${other}/`))) continue;
    for (const entry of await listRootTree(env, sha, dir)) seen.set(entry.path, entry);
  }
  return [...seen.values()];
}

/** A layout for a directory whose manifest could not be listed: buildStack reports it unreadable. */
function missingLayout(env: SyncEnv, dir: string): StackLayout {
  const full = repoPath(env.root, dir);
  return { dir: full, manifestPath: full === '' ? 'stack.yaml' : `${full}/stack.yaml`, resourcePaths: [] };
}
