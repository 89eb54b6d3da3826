/** The one shape of a validation finding: which file, which line (when known), what is wrong. */

/** A reason a stack is invalid; `file` is repo-relative (null when the stack as a whole is at fault). */
export interface ManifestProblem {
  file: string | null;
  line: number | null;
  message: string;
}

/** Build a problem (keeps call sites short). */
export function problem(file: string | null, line: number | null, message: string): ManifestProblem {
  return { file, line, message };
}

/** `file:line`, the place editors and CI logs jump to (just `file` when the line is unknown). */
export function fileLine(file: string, line: number | null | undefined): string {
  return line == null ? file : `${file}:${line}`;
}

/** `file:line: message` — the format editors jump to (line omitted when unknown). */
export function formatProblem(p: ManifestProblem, displayPath: (file: string) => string = (f) => f): string {
  if (p.file === null) return p.message;
  return `${fileLine(displayPath(p.file), p.line)}: ${p.message}`;
}
