/** Parse and validate a stack's `stack.yaml` (SPEC §2, §10): name, description, labels, annotations, rollout, dependsOn; nothing else. */
import { checkAnnotation, checkDescription, checkLabel, checkName, describeType, quote, unusableStackName } from './rules.js';
import { closestWord } from './closest-word.js';
import { problem, type ManifestProblem } from './manifest-problem.js';
import { decodeText } from './text-file.js';
import { loadYamlDocuments } from './yaml-documents.js';
import { parseDependsOn, parseRollout, type RolloutSpec } from './rollout-manifest.js';

export type { ManifestProblem } from './manifest-problem.js';

/** A valid stack manifest with defaults applied. */
export interface StackManifest {
  name: string;
  description: string | null;
  labels: string[];
  annotations: Record<string, string>;
  /** Present only when written: waves and gate of progressive delivery (SPEC §10). */
  rollout?: RolloutSpec;
  /** Present only when written (and non-empty): names of stacks delivered first, per agent. */
  dependsOn?: string[];
}

/** The fields a manifest may have; anything else is an error (a typo must not change targeting). */
export const MANIFEST_FIELDS = ['name', 'description', 'labels', 'annotations', 'rollout', 'dependsOn'] as const;
export type ManifestField = (typeof MANIFEST_FIELDS)[number];

/** A parsed manifest, plus the line of an explicit `name:` (for duplicate-name reports). */
export interface ParsedManifest {
  manifest: StackManifest;
  /** 1-based line of the `name:` field, null when the name is the default. */
  nameLine: number | null;
  /** 1-based line of `dependsOn:` when written (unknown names and cycles are reported there). */
  dependsOnLine?: number | null;
}

/**
 * Parse `stack.yaml`. An empty file (or explicit nulls) means every default; `defaultName` is the
 * directory relative to the root. All problems are reported at once, each with its line when known.
 */
export function parseStackManifest(
  data: Buffer | string,
  file: string,
  defaultName: string,
): ParsedManifest | { problems: ManifestProblem[] } {
  const decoded = typeof data === 'string' ? { text: data } : decodeText(data);
  if ('problem' in decoded) return { problems: [problem(file, decoded.problem.line, decoded.problem.message)] };
  const text = decoded.text;
  const loaded = loadYamlDocuments(text);
  if ('problem' in loaded) return { problems: [problem(file, loaded.problem.line, loaded.problem.message)] };
  const docs = loaded.documents.filter((d) => d.value !== null && d.value !== undefined);
  if (docs.length > 1) {
    return { problems: [problem(file, docs[1].line, 'stack.yaml must hold a single YAML document')] };
  }
  const value = docs[0]?.value ?? {};
  if (typeof value !== 'object' || Array.isArray(value) || value instanceof Date || Buffer.isBuffer(value)) {
    return { problems: [problem(file, docs[0]?.line ?? 1, `stack.yaml must be a mapping of fields (${MANIFEST_FIELDS.join(', ')}), not ${describeType(value)}`)] };
  }
  const fields = value as Record<string, unknown>;
  const lineOf = (field: string): number | null => fieldLine(text, field);
  const problems: ManifestProblem[] = [];
  const report = (field: string, message: string): void => {
    problems.push(problem(file, lineOf(field), message));
  };

  for (const key of Object.keys(fields)) {
    if ((MANIFEST_FIELDS as readonly string[]).includes(key)) continue;
    const suggestion = closestWord(key, MANIFEST_FIELDS);
    const hint = suggestion ? ` (did you mean "${suggestion}"?)` : ` (known fields: ${MANIFEST_FIELDS.join(', ')})`;
    report(key, `unknown field ${quote(key)}${hint}`);
  }

  let name = defaultName;
  const explicitName = fields.name !== undefined && fields.name !== null;
  if (explicitName) {
    const message = checkName(fields.name, 'name');
    const unusable = message ? null : unusableStackName(fields.name as string);
    if (message) report('name', message);
    else if (unusable) report('name', `name ${quote(fields.name as string)} cannot be a stack name: ${unusable} (agents write each stack to a file named after it)`);
    else name = fields.name as string;
  }

  const description = fields.description ?? null;
  const descriptionProblem = checkDescription(description);
  if (descriptionProblem) report('description', descriptionProblem);

  const labels: string[] = [];
  const rawLabels = fields.labels ?? [];
  if (!Array.isArray(rawLabels)) {
    const example = typeof rawLabels === 'string' ? ` (write labels: [${rawLabels}])` : '';
    report('labels', `labels must be a list of strings, not ${describeType(rawLabels)}${example}`);
  } else {
    const seen = new Set<string>();
    for (const label of rawLabels) {
      const message = checkLabel(label);
      if (message) report('labels', message);
      else if (seen.has(label as string)) report('labels', `duplicate label ${quote(label as string)}`);
      else {
        seen.add(label as string);
        labels.push(label as string);
      }
    }
  }

  const annotations: Record<string, string> = {};
  const rawAnnotations = fields.annotations ?? {};
  if (typeof rawAnnotations !== 'object' || Array.isArray(rawAnnotations) || rawAnnotations instanceof Date) {
    report('annotations', `annotations must be a mapping of strings to strings, not ${describeType(rawAnnotations)}`);
  } else {
    for (const [key, val] of Object.entries(rawAnnotations as Record<string, unknown>)) {
      const message = checkAnnotation(key, val);
      if (message) report('annotations', message);
      else annotations[key] = val as string;
    }
  }

  let rollout: RolloutSpec | undefined;
  if (fields.rollout !== undefined && fields.rollout !== null) {
    const parsed = parseRollout(fields.rollout);
    if ('problems' in parsed) for (const message of parsed.problems) report('rollout', message);
    else rollout = parsed.rollout;
  }
  let dependsOn: string[] | undefined;
  if (fields.dependsOn !== undefined && fields.dependsOn !== null) {
    const parsed = parseDependsOn(fields.dependsOn, name);
    if ('problems' in parsed) for (const message of parsed.problems) report('dependsOn', message);
    else if (parsed.dependsOn.length > 0) dependsOn = parsed.dependsOn;
  }

  if (problems.length > 0) return { problems };
  return {
    manifest: {
      name,
      description: description as string | null,
      labels,
      annotations,
      ...(rollout ? { rollout } : {}),
      ...(dependsOn ? { dependsOn } : {}),
    },
    nameLine: explicitName ? lineOf('name') : null,
    ...(dependsOn ? { dependsOnLine: lineOf('dependsOn') } : {}),
  };
}

/**
 * 1-based line of a top-level `field:` in block style, or null (flow style, or not written).
 * Good enough for messages; the YAML itself was already parsed by js-yaml.
 */
export function fieldLine(text: string, field: string): number | null {
  const lines = text.split(/\r\n|\r|\n/);
  const escaped = field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^(?:---\\s+)?(["']?)${escaped}\\1\\s*:`);
  for (let i = 0; i < lines.length; i++) if (pattern.test(lines[i])) return i + 1;
  return null;
}
