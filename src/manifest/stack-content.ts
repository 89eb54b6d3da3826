/** A stack's content (SPEC §2): its resource files' documents as one deterministic YAML stream, and its checksum. */
import { sha256Hex } from '../sha256-hex.js';
import { problem, type ManifestProblem } from './manifest-problem.js';
import { describeType } from './rules.js';
import { decodeText } from './text-file.js';
import { loadYamlDocuments } from './yaml-documents.js';

/** Default limit of a stack's content in bytes (4 MiB, `--max-bytes` / `maxContentBytes`). */
export const DEFAULT_MAX_CONTENT_BYTES = 4 * 1024 * 1024;

/** A resource file's path (repo-relative) and bytes. */
export interface ContentFile {
  path: string;
  data: Buffer;
}

/** The stream and its lowercase hex SHA-256. */
export interface StackContent {
  content: string;
  checksum: string;
}

/** The message for content (or one file) over the limit, worded once for sync, lint and blob reads. */
export function tooLargeMessage(size: number, maxBytes: number, what = 'stack content'): string {
  return `${what} is ${size} bytes, over the limit of ${maxBytes} bytes`;
}

/**
 * Build the content from files already in byte order of their paths. The user's bytes are kept
 * (comments, formatting, key order), each file preceded by `---` and a `# Source:` comment, so the
 * stream parses to exactly the concatenation of each file's documents:
 * - every file is made to end with a line break, so its last line cannot run into the separator;
 *   js-yaml reads a missing final line break as present, so this changes no value;
 * - `---` and `...` at column 0 end any node still open at the end of a file (block scalars
 *   included, with the same chomping as at end of input);
 * - the separator's own `---` starts a document the file may leave empty (a leading `---`, a
 *   comment-only file): empty documents are dropped by the SPEC's comparison;
 * - directives (`%YAML`, `%TAG`) are only legal before a document starts, so a file opening with
 *   one is preceded by `...` (document end) instead of `---`;
 * - a leading byte-order mark is dropped (js-yaml only skips one at the start of the stream).
 * Every non-empty document must be a mapping (a Kubernetes object); empty documents stay in the
 * user's text and are dropped by readers, as the SPEC comparison does.
 */
export function buildStackContent(
  files: ContentFile[],
  maxBytes: number,
  stackDir = '',
): StackContent | { problems: ManifestProblem[] } {
  const inputBytes = files.reduce((sum, f) => sum + f.data.length, 0);
  if (inputBytes > maxBytes) {
    return { problems: [problem(null, null, tooLargeMessage(inputBytes, maxBytes))] };
  }
  const problems: ManifestProblem[] = [];
  const parts: string[] = [];
  for (const file of files) {
    const decoded = decodeText(file.data);
    if ('problem' in decoded) {
      problems.push(problem(file.path, decoded.problem.line, decoded.problem.message));
      continue;
    }
    const text = decoded.text;
    const loaded = loadYamlDocuments(text);
    if ('problem' in loaded) {
      problems.push(problem(file.path, loaded.problem.line, loaded.problem.message));
      continue;
    }
    let index = 0;
    for (const doc of loaded.documents) {
      index += 1;
      if (doc.value === null || doc.value === undefined) continue;
      if (typeof doc.value !== 'object' || Array.isArray(doc.value) || doc.value instanceof Date || Buffer.isBuffer(doc.value)) {
        problems.push(problem(file.path, doc.line, `document ${index} is ${describeType(doc.value)}, not a mapping (each document must be a Kubernetes object)`));
      }
    }
    const separator = startsWithDirective(text) ? '...' : '---';
    const ending = /[\n\r]$/.test(text) || text.length === 0 ? '' : '\n';
    parts.push(`${separator}\n# Source: ${sourceLabel(relativeTo(stackDir, file.path))}\n${text}${ending}`);
  }
  if (problems.length > 0) return { problems };
  const content = parts.join('');
  const size = Buffer.byteLength(content, 'utf8');
  if (size > maxBytes) return { problems: [problem(null, null, tooLargeMessage(size, maxBytes))] };
  return { content, checksum: sha256Hex(content) };
}

/**
 * `# Source:` names a file relative to its stack directory, so moving a stack (a rename that
 * keeps `name:`) leaves its content and checksum unchanged and makes no new object.
 */
function relativeTo(stackDir: string, path: string): string {
  return stackDir !== '' && path.startsWith(`${stackDir}/`) ? path.slice(stackDir.length + 1) : path;
}

/** Does the text's first line that is not blank or a comment start with a directive (`%`)? */
function startsWithDirective(text: string): boolean {
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (/^\s*(#.*)?$/.test(line)) continue;
    return line.startsWith('%');
  }
  return false;
}

/** The path as written in the `# Source:` comment: quoted when a raw line break or control character would end the comment. */
function sourceLabel(path: string): string {
  return /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(path) || path.trim() !== path ? JSON.stringify(path) : path;
}
