/** Validate one stack end to end (manifest, entries, files, content): the step sync and lint share. */
import { duplicateNameProblem, findDuplicateNames } from './duplicate-names.js';
import { problem, type ManifestProblem } from './manifest-problem.js';
import { buildStackContent, tooLargeMessage, type ContentFile } from './stack-content.js';
import { defaultStackName, type StackLayout } from './stack-layout.js';
import { parseStackManifest, type StackManifest } from './stack-manifest.js';
import { checkTreeEntry } from './tree-entry-check.js';

/** A file's bytes, or why there are none (`tooLarge` as returned by GitSource.readBlobs). */
export type FileData = Buffer | { tooLarge: number } | { missing: true };

export interface StackInput {
  layout: StackLayout;
  /** The configured root ('' = repository root), for the default name. */
  root: string;
  /** Bytes of the manifest and of each resource path (never called for symlinks or submodules). */
  read: (path: string) => FileData | undefined;
  /** Git mode of a path ('120000' symlink, '160000' submodule); undefined = regular file. */
  modeOf?: (path: string) => string | undefined;
  maxBytes: number;
}

/** A stack as validated at one commit (or in a working tree): valid when `problems` is empty. */
export interface BuiltStack {
  dir: string;
  manifestPath: string;
  resourcePaths: string[];
  /** Null when the manifest itself is invalid (then the stack's name is unknown). */
  manifest: StackManifest | null;
  nameLine: number | null;
  /** Line of `dependsOn:` when written. */
  dependsOnLine?: number | null;
  /** Null when any problem was found. */
  content: string | null;
  checksum: string | null;
  problems: ManifestProblem[];
}

/** Read a path through the input, turning special entries and missing/too-large data into problems. */
function readFile(input: StackInput, path: string, problems: ManifestProblem[]): Buffer | null {
  const entryProblem = checkTreeEntry({ path, mode: input.modeOf?.(path) ?? '100644' });
  if (entryProblem) {
    problems.push(entryProblem);
    return null;
  }
  const data = input.read(path);
  if (data === undefined || 'missing' in data) {
    problems.push(problem(path, null, 'file could not be read'));
    return null;
  }
  if ('tooLarge' in data) {
    problems.push(problem(path, null, tooLargeMessage(data.tooLarge, input.maxBytes, 'file')));
    return null;
  }
  return data;
}

/** Validate a stack: every problem is collected (not just the first) so one lint run shows them all. */
export function buildStack(input: StackInput): BuiltStack {
  const { layout } = input;
  const problems: ManifestProblem[] = [];
  let manifest: StackManifest | null = null;
  let nameLine: number | null = null;
  let dependsOnLine: number | null | undefined;

  const manifestData = readFile(input, layout.manifestPath, problems);
  if (manifestData) {
    const parsed = parseStackManifest(manifestData, layout.manifestPath, defaultStackName(layout.dir, input.root));
    if ('problems' in parsed) problems.push(...parsed.problems);
    else ({ manifest, nameLine, dependsOnLine } = parsed);
  }

  const files: ContentFile[] = [];
  for (const path of layout.resourcePaths) {
    const data = readFile(input, path, problems);
    if (data) files.push({ path, data });
  }
  let content: string | null = null;
  let checksum: string | null = null;
  const built = buildStackContent(files, input.maxBytes, layout.dir);
  if ('problems' in built) {
    // Whole-stack problems (size) are attributed to the manifest so they have a file to point at.
    problems.push(...built.problems.map((p) => (p.file === null ? { ...p, file: layout.manifestPath } : p)));
  } else if (problems.length === 0) {
    ({ content, checksum } = built);
  }
  // Report in file order (manifest first, then resources by path), whatever step found them.
  const order = new Map([layout.manifestPath, ...layout.resourcePaths].map((p, i) => [p, i]));
  const rank = (p: ManifestProblem): number => (p.file === null ? -1 : order.get(p.file) ?? order.size);
  problems.sort((a, b) => rank(a) - rank(b));
  return { ...layout, manifest, nameLine, ...(dependsOnLine !== undefined ? { dependsOnLine } : {}), content, checksum, problems };
}

/**
 * Mark every stack claiming a name another keeps as invalid (SPEC §2). `incumbents` maps a name
 * to the dir of the stack owning it in the database, so a newcomer never takes it away.
 */
export function applyDuplicateNames(stacks: BuiltStack[], incumbents?: ReadonlyMap<string, string>): BuiltStack[] {
  const named = stacks.filter((s) => s.manifest !== null).map((s) => ({ dir: s.dir, name: s.manifest!.name }));
  const byDir = new Map(stacks.map((s) => [s.dir, s]));
  for (const dup of findDuplicateNames(named, incumbents)) {
    const stack = byDir.get(dup.dir)!;
    stack.problems.push(duplicateNameProblem(dup, stack.manifestPath, stack.nameLine));
    stack.content = null;
    stack.checksum = null;
  }
  return stacks;
}
