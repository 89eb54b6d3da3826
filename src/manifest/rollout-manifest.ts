/** The progressive-delivery fields of `stack.yaml` (SPEC §10): `rollout: {waves, gate}` and `dependsOn`. */
import { closestWord } from './closest-word.js';
import { checkAnnotation, checkLabel, checkName, describeType, quote } from './rules.js';

export const ROLLOUT_GATES = ['success', 'healthy'] as const;
/** success: every agent of a wave reported SUCCESS; healthy: and reported the object healthy. */
export type RolloutGate = (typeof ROLLOUT_GATES)[number];

/** Which agents a wave holds: any of `labels` and/or all of `annotations` (both given: both must hold). */
export interface WaveSelector {
  labels: string[];
  annotations: Record<string, string>;
}

export interface RolloutSpec {
  waves: WaveSelector[];
  gate: RolloutGate;
}

const ROLLOUT_FIELDS = ['waves', 'gate'] as const;
const WAVE_FIELDS = ['labels', 'annotations'] as const;

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !Buffer.isBuffer(v);

function unknownField(key: string, known: readonly string[], where: string): string {
  const suggestion = closestWord(key, known);
  return `unknown field ${quote(key)} in ${where}${suggestion ? ` (did you mean "${suggestion}"?)` : ` (known fields: ${known.join(', ')})`}`;
}

/** Parse `rollout:`; messages are reported at the field's line by the caller. */
export function parseRollout(value: unknown): { rollout: RolloutSpec } | { problems: string[] } {
  const problems: string[] = [];
  if (!isMapping(value)) return { problems: [`rollout must be a mapping with waves and gate, not ${describeType(value)}`] };
  for (const key of Object.keys(value)) if (!(ROLLOUT_FIELDS as readonly string[]).includes(key)) problems.push(unknownField(key, ROLLOUT_FIELDS, 'rollout'));
  let gate: RolloutGate = 'success';
  if (value.gate !== undefined && value.gate !== null) {
    if (typeof value.gate === 'string' && (ROLLOUT_GATES as readonly string[]).includes(value.gate)) gate = value.gate as RolloutGate;
    else problems.push(`rollout.gate must be ${ROLLOUT_GATES.join(' or ')}, not ${typeof value.gate === 'string' ? quote(value.gate) : describeType(value.gate)}`);
  }
  const waves: WaveSelector[] = [];
  const raw = value.waves ?? [];
  if (!Array.isArray(raw)) problems.push(`rollout.waves must be a list of waves ({labels, annotations}), not ${describeType(raw)}`);
  else {
    raw.forEach((wave: unknown, i) => {
      const where = `rollout.waves[${i + 1}]`;
      if (!isMapping(wave)) return void problems.push(`${where} must be a mapping with labels and/or annotations, not ${describeType(wave)}`);
      for (const key of Object.keys(wave)) if (!(WAVE_FIELDS as readonly string[]).includes(key)) problems.push(unknownField(key, WAVE_FIELDS, where));
      const labels: string[] = [];
      const rawLabels = wave.labels ?? [];
      if (!Array.isArray(rawLabels)) problems.push(`${where}.labels must be a list of strings, not ${describeType(rawLabels)}`);
      else
        for (const label of rawLabels) {
          const message = checkLabel(label);
          if (message) problems.push(`${where}: ${message}`);
          else if (!labels.includes(label as string)) labels.push(label as string);
        }
      const annotations: Record<string, string> = {};
      const rawAnnotations = wave.annotations ?? {};
      if (!isMapping(rawAnnotations)) problems.push(`${where}.annotations must be a mapping of strings to strings, not ${describeType(rawAnnotations)}`);
      else
        for (const [key, val] of Object.entries(rawAnnotations)) {
          const message = checkAnnotation(key, val);
          if (message) problems.push(`${where}: ${message}`);
          else annotations[key] = val as string;
        }
      if (labels.length === 0 && Object.keys(annotations).length === 0 && problems.length === 0) {
        problems.push(`${where} selects no agent: give it labels and/or annotations`);
      }
      waves.push({ labels, annotations });
    });
  }
  return problems.length > 0 ? { problems } : { rollout: { waves, gate } };
}

/** Parse `dependsOn:` — a list of stack names, no duplicates, not the stack itself. */
export function parseDependsOn(value: unknown, ownName: string): { dependsOn: string[] } | { problems: string[] } {
  if (!Array.isArray(value)) {
    const example = typeof value === 'string' ? ` (write dependsOn: [${value}])` : '';
    return { problems: [`dependsOn must be a list of stack names, not ${describeType(value)}${example}`] };
  }
  const problems: string[] = [];
  const names: string[] = [];
  for (const name of value) {
    const message = checkName(name, 'dependsOn entry');
    if (message) problems.push(message);
    else if (name === ownName) problems.push(`stack ${quote(name as string)} cannot depend on itself`);
    else if (names.includes(name as string)) problems.push(`duplicate dependency ${quote(name as string)}`);
    else names.push(name as string);
  }
  return problems.length > 0 ? { problems } : { dependsOn: names };
}

/** The first wave (0-based) an agent matches, or `waves.length` (the implicit last wave) when none. */
export function waveOf(waves: readonly WaveSelector[], labels: readonly string[], annotations: Readonly<Record<string, string>>): number {
  for (let i = 0; i < waves.length; i++) {
    const w = waves[i];
    const byLabel = w.labels.length === 0 || w.labels.some((l) => labels.includes(l));
    const byAnnotation = Object.entries(w.annotations).every(([k, v]) => annotations[k] === v);
    if (byLabel && byAnnotation) return i;
  }
  return waves.length;
}
