/** Plain-text output for the admin CLI: aligned tables, key/value blocks, ages and short ids. */
import { fileLine } from '../manifest/manifest-problem.js';

/** `1 stack`, `2 stacks`: a count and its noun, with an English plural -s. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Columns separated by two spaces, each as wide as its widest cell; the last column is not padded. */
export function formatTable(headers: string[], rows: string[][]): string {
  const clean = rows.map((row) => headers.map((_, i) => oneLine(row[i] ?? '')));
  const widths = headers.map((h, i) => Math.max(h.length, ...clean.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...clean.map(line)].join('\n') + '\n';
}

/** `Key   value` lines with the keys aligned; entries with an undefined value are left out. */
export function formatFields(fields: [string, string | undefined][]): string {
  const shown = fields.filter((f): f is [string, string] => f[1] !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${v}`.trimEnd()).join('\n') + '\n';
}

/** How long ago a timestamp was, as `5s ago`, `3m ago`, `2h ago`, `4d ago`; `never` for null. */
export function formatAge(timestamp: string | null | undefined, now: number = Date.now()): string {
  if (!timestamp) return 'never';
  const then = Date.parse(timestamp);
  if (Number.isNaN(then)) return timestamp;
  return formatSeconds((now - then) / 1000);
}

/** A duration in seconds as an age (`in 3s` for the future, which clock skew can produce). */
export function formatSeconds(seconds: number): string {
  if (seconds < 0) return `in ${span(-seconds)}`;
  return `${span(seconds)} ago`;
}

function span(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** The first 7 characters of a commit sha, as git shows them; `-` when there is none. */
export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 7) : '-';
}

/** Cut a cell to `max` characters, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  const flat = oneLine(text);
  return flat.length <= max ? flat : `${flat.slice(0, Math.max(0, max - 1))}…`;
}

/** `a, b` for labels, `k=v, k2=v2` for annotations; `-` when empty. */
export function formatList(items: string[] | Record<string, string> | null | undefined): string {
  if (!items) return '-';
  const list = Array.isArray(items) ? items : Object.entries(items).map(([k, v]) => `${k}=${v}`);
  return list.length ? list.join(', ') : '-';
}

/** Newlines and tabs in a cell would break the alignment of every row after it. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').replace(/\t/g, ' ');
}

/** Print the raw answer as JSON with `--json`, else the human rendering. */
export function emit(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value ?? null, null, 2)}\n` : human());
}

/** Where a sync error is: `file:line`, or the stack directory (`.` for the root) when no file is known. */
export function syncErrorPlace(e: { file: string | null; line: number | null; stack_path: string }): string {
  return e.file ? fileLine(e.file, e.line) : e.stack_path || '.';
}

/** A recorded sync error as `file:line: message` (the stack directory when no file is known). */
export function formatSyncError(e: { file: string | null; line: number | null; stack_path: string; message: string }): string {
  return `${syncErrorPlace(e)}: ${oneLine(e.message)}`;
}
