/** Which directories are stacks and which files belong to each (SPEC §2), from a list of paths. */

/** The file that makes a directory a stack. */
export const MANIFEST_FILE = 'stack.yaml';

/** One stack found in a tree: its directory, its manifest and its resource files. */
export interface StackLayout {
  /** Directory relative to the repository root ('' = the repository root itself). */
  dir: string;
  /** Repo-relative path of the stack's `stack.yaml`. */
  manifestPath: string;
  /** Repo-relative resource files, sorted by byte order (Buffer.compare). */
  resourcePaths: string[];
}

/** Byte-order comparison of two strings (UTF-8), the order of stack content (SPEC §2). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Directory part of a repo-relative path ('' for a top-level file). */
export function dirnameOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** Last segment of a repo-relative path. */
export function basenameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Does the path name a resource file (`*.yaml` / `*.yml`, other than a manifest)? */
export function isResourceName(path: string): boolean {
  const base = basenameOf(path);
  return base !== MANIFEST_FILE && (base.endsWith('.yaml') || base.endsWith('.yml'));
}

/**
 * Hidden paths (any segment starting with '.', e.g. `.github/workflows/ci.yml`) are not part of
 * any stack: CI configuration is not a Kubernetes resource, and `lint` (fast-glob, dot files off)
 * must see exactly what the syncer sees.
 */
export function isHiddenPath(path: string): boolean {
  return path.startsWith('.') || path.includes('/.');
}

/** A stack's name when its manifest has none: its directory relative to the root. */
export function defaultStackName(dir: string, root: string): string {
  if (root === '') return dir === '' ? 'root' : dir;
  if (dir === root) return basenameOf(root);
  return dir.slice(root.length + 1);
}

/** Normalise a `--root` option: no leading './' or '/', no trailing '/', '.' → ''. */
export function normalizeRoot(root: string | undefined): string {
  if (!root) return '';
  let r = root.replace(/\\/g, '/').replace(/\/+$/, '').replace(/^(\.\/)+/, '').replace(/^\/+/, '');
  if (r === '.') r = '';
  return r;
}

/** The deepest stack directory containing `path` (a file or directory), or null when none does. */
export function stackDirOf(path: string, stackDirs: ReadonlySet<string>): string | null {
  let dir = stackDirs.has(path) ? path : dirnameOf(path);
  for (;;) {
    if (stackDirs.has(dir)) return dir;
    if (dir === '') return null;
    dir = dirnameOf(dir);
  }
}

/** Is a repo-relative file path below the root and not hidden there (hidden above the root is fine)? */
export function isVisibleUnder(path: string, root: string): boolean {
  if (root === '') return !isHiddenPath(path);
  return path.startsWith(`${root}/`) && !isHiddenPath(path.slice(root.length + 1));
}

/** The stack directories among repo-relative file paths: every visible directory under root holding stack.yaml. */
export function findStackDirs(paths: Iterable<string>, root: string): Set<string> {
  const dirs = new Set<string>();
  for (const path of paths) {
    if (basenameOf(path) === MANIFEST_FILE && isVisibleUnder(path, root)) dirs.add(dirnameOf(path));
  }
  return dirs;
}

/**
 * Group repo-relative file paths into stacks (sorted by directory, byte order). A resource belongs
 * to the deepest stack containing it, so a nested stack's files never leak into its parent.
 */
export function layoutStacks(paths: string[], root: string): StackLayout[] {
  const stackDirs = findStackDirs(paths, root);
  const byDir = new Map<string, StackLayout>();
  for (const dir of stackDirs) {
    byDir.set(dir, { dir, manifestPath: dir === '' ? MANIFEST_FILE : `${dir}/${MANIFEST_FILE}`, resourcePaths: [] });
  }
  for (const path of paths) {
    if (!isResourceName(path) || !isVisibleUnder(path, root)) continue;
    const dir = stackDirOf(path, stackDirs);
    if (dir !== null) byDir.get(dir)!.resourcePaths.push(path);
  }
  const stacks = [...byDir.values()].sort((a, b) => compareBytes(a.dir, b.dir));
  for (const stack of stacks) stack.resourcePaths.sort(compareBytes);
  return stacks;
}
