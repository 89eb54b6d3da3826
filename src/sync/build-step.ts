/**
 * Pipeline step 4 — build: read the affected stacks' files at the commit (one tree listing per
 * stack, or one for the whole root when many changed; blobs in batches) and validate each stack
 * with the shared manifest module. Only the stacks the affected step named are read.
 */
import type { TreeEntry } from '../git/git-source.js';
import { buildStack, layoutStacks, type BuiltStack, type StackLayout } from '../manifest/index.js';
import type { AffectedStacks } from './affected-step.js';
import { listRootTree } from './diff-step.js';
import { gitCall } from './resolve-step.js';
import { repoPath, rootRelative, type SyncEnv } from './sync-env.js';

export type { BuiltStack } from '../manifest/index.js';

export interface BuiltStacks {
  affected: AffectedStacks;
  /** Every directory of affected.build (root-relative) → the stack as validated at the commit. */
  stacks: Map<string, BuiltStack>;
}

/** Above this many stacks one listing of the whole root is cheaper than one listing per stack. */
const LIST_WHOLE_TREE_ABOVE = 32;
/** Stacks per blob batch: bounds memory in a large snapshot and paces progress reports. */
const STACKS_PER_BATCH = 250;
const SYMLINK_MODE = '120000';

export async function buildStep(env: SyncEnv, affected: AffectedStacks): Promise<BuiltStacks> {
  const stacks = new Map<string, BuiltStack>();
  if (affected.build.length === 0) return { affected, stacks };

  // Paths from here on are repo-relative, as the manifest module reports them.
  const listed = await listEntries(env, affected);
  // With the root at the repository root, root-relative paths are the repo paths: no copy.
  const entries = env.root === '' ? listed : listed.map((e) => ({ ...e, path: repoPath(env.root, e.path) }));
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const layouts = new Map<string, StackLayout>();
  for (const layout of layoutStacks([...byPath.keys()], env.root)) {
    const dir = rootRelative(env.root, layout.dir);
    if (dir !== null) layouts.set(dir, layout);
  }

  const total = affected.build.length;
  for (let start = 0; start < total; start += STACKS_PER_BATCH) {
    const dirs = affected.build.slice(start, start + STACKS_PER_BATCH);
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
    for (const dir of dirs) {
      const layout = layouts.get(dir) ?? missingLayout(env, dir);
      stacks.set(
        dir,
        buildStack({
          layout,
          root: env.root,
          maxBytes: env.maxContentBytes,
          modeOf: (path) => byPath.get(path)?.mode,
          read: (path) => {
            const entry = byPath.get(path);
            return (entry && blobs.get(entry.oid)) ?? { missing: true };
          },
        }),
      );
    }
    if (affected.step.mode === 'snapshot') {
      env.onProgress?.({ phase: 'snapshot', done: Math.min(start + dirs.length, total), total });
    }
  }
  return { affected, stacks };
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
