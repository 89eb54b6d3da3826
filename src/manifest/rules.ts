/** The field rules of stacks and agents (names, labels, annotations) and their messages, worded once. */

/** Longest label, annotation key and annotation value, in characters (Unicode code points). */
export const MAX_LABEL = 64;
export const MAX_ANNOTATION_KEY = 64;
export const MAX_ANNOTATION_VALUE = 64;
/** Longest stack (or agent, cluster) name, in characters. */
export const MAX_NAME = 255;

// Control characters would break `path:line: message` output and log lines; whitespace inside a
// label or annotation key is almost always a typo ("prod " never matches the agent label "prod").
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const WHITESPACE = /\s/;

/** Length in characters as users count them (code points), not UTF-16 units. */
export function charLength(value: string): number {
  let n = 0;
  for (const _ of value) n += 1;
  return n;
}

/** `"value"` shortened for messages so a hostile megabyte string does not flood the output. */
export function quote(value: string, max = 40): string {
  const shown = charLength(value) > max ? `${[...value].slice(0, max).join('')}…` : value;
  return JSON.stringify(shown);
}

/** A readable name for the type of a parsed YAML value ("a number", "a list", ...). */
export function describeType(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a date';
  if (Buffer.isBuffer(value)) return 'binary data';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

/** Hint for scalars YAML did not read as strings (`- 2024`, `enabled: true`). */
function quoteHint(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value instanceof Date) {
    const text = value instanceof Date ? value.toISOString() : String(value);
    return ` (quote it: "${text}")`;
  }
  return '';
}

function checkToken(what: string, value: unknown, max: number, allowSpaces: boolean): string | null {
  if (typeof value !== 'string') return `${what} must be a string, not ${describeType(value)}${quoteHint(value)}`;
  if (value.length === 0) return `${what} must not be empty (1..${max} characters)`;
  const length = charLength(value);
  if (length > max) return `${what} ${quote(value)} is ${length} characters long; the limit is ${max}`;
  if (CONTROL.test(value)) return `${what} ${quote(value)} must not contain control characters or line breaks`;
  if (!allowSpaces && WHITESPACE.test(value)) return `${what} ${quote(value)} must not contain whitespace`;
  if (allowSpaces && value.trim() !== value) return `${what} ${quote(value)} must not start or end with whitespace`;
  return null;
}

/** Error message for an invalid label, or null: a string of 1..64 characters without whitespace. */
export function checkLabel(value: unknown): string | null {
  return checkToken('label', value, MAX_LABEL, false);
}

/** Error message for an invalid annotation, or null: key 1..64 characters without whitespace, value 1..64 characters. */
export function checkAnnotation(key: unknown, value: unknown): string | null {
  const keyProblem = checkToken('annotation key', key, MAX_ANNOTATION_KEY, false);
  if (keyProblem) return keyProblem;
  const valueProblem = checkToken(`annotation ${quote(key as string)} value`, value, MAX_ANNOTATION_VALUE, true);
  return valueProblem;
}

/** Error message for an invalid name (stack, agent, cluster), or null: 1..255 characters. */
export function checkName(value: unknown, what = 'name'): string | null {
  return checkToken(what, value, MAX_NAME, true);
}

/**
 * Why a stack name can never become the file an agent writes it to (empty, absolute, a `.`, `..`
 * or empty path segment, a backslash, a control character), or null. Sync and lint refuse such a
 * name with its file and line; the reference agent applies the same rule to what it receives.
 */
export function unusableStackName(name: string): string | null {
  if (name.length === 0) return 'it is empty';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'it contains a NUL or control character';
  if (name.includes('\\')) return 'it contains a backslash';
  if (name.startsWith('/')) return 'it is an absolute path';
  if (name.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'it has an empty, "." or ".." path segment';
  return null;
}

/** Error message for a description, or null: any string without NUL bytes (null allowed). */
export function checkDescription(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') return `description must be a string, not ${describeType(value)}${quoteHint(value)}`;
  if (value.includes('\u0000')) return 'description must not contain NUL characters';
  return null;
}
