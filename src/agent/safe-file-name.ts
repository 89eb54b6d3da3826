/** Stack name → file name inside OUT: readable for the common case, and never a path out of OUT. */
import { sha256Hex } from '../sha256-hex.js';
import { unusableStackName } from '../manifest/rules.js';

export type SafeNameResult = { ok: true; file: string } | { ok: false; code: 'UNSAFE_STACK_NAME'; message: string };

/** Longest file name we produce (bytes); most file systems allow 255. */
const MAX_FILE_BYTES = 200;

/**
 * `teams/payments` → `teams__payments.yaml`. Characters outside [A-Za-z0-9._-] (and a leading
 * dot, so no hidden files and no clash with the agent's own `.brokkr-agent*` entries) are
 * percent-encoded, so the result is a single path segment by construction. Names that look like
 * an attack or a mistake — empty, absolute, a `..`/`.`/empty segment, a NUL or other control
 * character, a backslash — are refused rather than silently rewritten.
 */
export function safeFileName(stackName: string): SafeNameResult {
  const refuse = (why: string): SafeNameResult => ({
    ok: false,
    code: 'UNSAFE_STACK_NAME',
    message: `stack name ${JSON.stringify(stackName)} cannot be used as a file name: ${why}`,
  });
  // The same rule sync and lint refuse such names with; a daemon of another make may still send one.
  const unusable = unusableStackName(stackName);
  if (unusable) return refuse(unusable);
  const segments = stackName.split('/');

  const encoded = segments.map(encodeSegment).join('__');
  let file = `${encoded}.yaml`;
  if (Buffer.byteLength(file) > MAX_FILE_BYTES) {
    // Keep a readable prefix and make it unique again with a hash of the full name.
    const hash = sha256Hex(stackName).slice(0, 16);
    file = `${truncateBytes(encoded, MAX_FILE_BYTES - 22)}~${hash}.yaml`;
  }
  return { ok: true, file };
}

function encodeSegment(segment: string): string {
  let out = '';
  for (const [i, ch] of [...segment].entries()) {
    if (/^[A-Za-z0-9_-]$/.test(ch) || (ch === '.' && i > 0)) out += ch;
    else out += [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  }
  return out;
}

/** Cut a string of ASCII (it is, after encoding) to at most n bytes. */
function truncateBytes(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n);
}
