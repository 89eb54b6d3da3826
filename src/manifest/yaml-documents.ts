/** Parse YAML the way `yaml.loadAll` does, but bounded: alias bombs, deep nesting and cycles become problems. */
import yaml from 'js-yaml';

/** Most nodes aliases may add to one file once expanded (a billion-laughs file adds ~10^9). */
export const MAX_ALIAS_EXPANSION = 100_000;
/** Deepest nesting of a document once aliases are expanded (js-yaml bounds only the written depth). */
export const MAX_EXPANDED_DEPTH = 1_000;

/** One parsed document and the (1-based) line where its content starts. */
export interface YamlDocument {
  value: unknown;
  line: number;
}

/** Why a YAML text was refused, with the 1-based line when known. */
export interface YamlProblem {
  line: number | null;
  message: string;
}

/**
 * Parse every document of `text` with js-yaml's default schema (so results match `yaml.loadAll`),
 * then measure each document as if its aliases were expanded: js-yaml shares aliased nodes by
 * reference, which is cheap here but explodes in any consumer that serialises or walks the data.
 */
export function loadYamlDocuments(text: string): { documents: YamlDocument[] } | { problem: YamlProblem } {
  const lines: number[] = [];
  let depth = 0;
  let values: unknown[];
  try {
    values = yaml.loadAll(text, undefined, {
      // Nodes open and close in nesting order, so depth 1 is a document's top-level node.
      listener(event, state) {
        if (event === 'open') {
          depth += 1;
          if (depth === 1) lines.push(state.line + 1);
        } else depth -= 1;
      },
    }) as unknown[];
  } catch (err) {
    return { problem: describeLoadError(err) };
  }
  const documents: YamlDocument[] = [];
  let added = 0;
  for (let i = 0; i < values.length; i++) {
    const line = lines[i] ?? 1;
    const shape = measureExpanded(values[i]);
    if (shape === 'cycle') return { problem: { line, message: 'an alias refers to a node that contains it (recursive alias)' } };
    // Summed over the file's documents, so a thousand small bombs are one big one.
    added += shape.expanded - shape.unique;
    if (added > MAX_ALIAS_EXPANSION) {
      return {
        problem: {
          line,
          message: `aliases expand this document to ${formatCount(shape.expanded)} nodes (at most ${formatCount(MAX_ALIAS_EXPANSION)} more than written); refusing a likely alias bomb`,
        },
      };
    }
    if (shape.depth > MAX_EXPANDED_DEPTH) {
      return { problem: { line, message: `document is nested ${shape.depth} levels deep once aliases are expanded (limit ${MAX_EXPANDED_DEPTH})` } };
    }
    documents.push({ value: values[i], line });
  }
  return { documents };
}

function describeLoadError(err: unknown): YamlProblem {
  if (err instanceof yaml.YAMLException) {
    const mark = (err as yaml.YAMLException & { mark?: { line?: number } }).mark;
    const line = typeof mark?.line === 'number' ? mark.line + 1 : null;
    return { line, message: `invalid YAML: ${err.reason}` };
  }
  if (err instanceof RangeError) return { line: null, message: 'invalid YAML: nested too deeply to parse' };
  return { line: null, message: `invalid YAML: ${err instanceof Error ? err.message : String(err)}` };
}

function formatCount(n: number): string {
  return Number.isFinite(n) && n < 1e15 ? Math.round(n).toString() : n.toExponential(2);
}

function childrenOf(node: unknown): unknown[] | null {
  if (node === null || typeof node !== 'object') return null;
  if (Array.isArray(node)) return node;
  if (node instanceof Date || Buffer.isBuffer(node) || ArrayBuffer.isView(node)) return null;
  return Object.values(node as Record<string, unknown>);
}

interface Shape {
  /** Nodes counted every time they are reached (aliases expanded). */
  expanded: number;
  /** Nodes as written (each aliased collection once). */
  unique: number;
  /** Depth with aliases expanded. */
  depth: number;
}

/** Iterative (no recursion: documents may be deep) memoised walk; 'cycle' when a node contains itself. */
function measureExpanded(root: unknown): Shape | 'cycle' {
  const rootChildren = childrenOf(root);
  if (rootChildren === null) return { expanded: 1, unique: 1, depth: 1 };
  const size = new Map<object, number>();
  const depthOf = new Map<object, number>();
  const onPath = new Set<object>();
  interface Frame { node: object; children: unknown[]; i: number; total: number; depth: number }
  const stack: Frame[] = [];
  let unique = 0;
  const enter = (node: object, children: unknown[]): void => {
    onPath.add(node);
    unique += 1;
    stack.push({ node, children, i: 0, total: 1, depth: 1 });
  };
  enter(root as object, rootChildren);
  let result: Shape = { expanded: 1, unique: 1, depth: 1 };
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    if (frame.i < frame.children.length) {
      const child = frame.children[frame.i++];
      const grand = childrenOf(child);
      if (grand === null) {
        frame.total += 1;
        unique += 1;
        frame.depth = Math.max(frame.depth, 2);
        continue;
      }
      const known = size.get(child as object);
      if (known !== undefined) {
        frame.total += known;
        frame.depth = Math.max(frame.depth, 1 + depthOf.get(child as object)!);
        continue;
      }
      if (onPath.has(child as object)) return 'cycle';
      enter(child as object, grand);
      continue;
    }
    stack.pop();
    onPath.delete(frame.node);
    size.set(frame.node, frame.total);
    depthOf.set(frame.node, frame.depth);
    const parent = stack[stack.length - 1];
    if (parent) {
      parent.total += frame.total;
      parent.depth = Math.max(parent.depth, 1 + frame.depth);
    } else {
      result = { expanded: frame.total, unique, depth: frame.depth };
    }
  }
  return result;
}
