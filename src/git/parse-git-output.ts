/** Parsers for git's NUL-separated (-z) output, so paths with spaces, unicode and newlines survive. */
import type { GitCommit, TreeChange, TreeEntry } from './git-source.js';

/** Fields of one commit record, separated by NUL (names and subjects cannot hold NUL). */
export const LOG_FORMAT = '%H%x00%P%x00%an%x00%ae%x00%ct%x00%s';
const LOG_FIELDS = 6;

function splitNul(out: Buffer): string[] {
  const parts = out.toString('utf8').split('\0');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/**
 * `git ls-tree -r -z --long`: "<mode> <type> <oid> <size>\t<path>\0", size padded, '-' for non-blobs.
 * Read from the bytes field by field: each string is its own (a slice of one big decoded string
 * would keep the whole listing alive — megabytes at 100,000 stacks — for as long as any path lives).
 */
export function parseLsTree(out: Buffer, prefix = ''): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let start = 0;
  while (start < out.length) {
    let end = out.indexOf(0, start);
    if (end < 0) end = out.length;
    const tab = out.indexOf(0x09, start);
    if (tab < 0 || tab > end) throw new Error(`unexpected ls-tree output: ${out.toString('utf8', start, Math.min(end, start + 80))}`);
    // "<mode> <type> <oid>" single-spaced, then (with --long) the padded size.
    const sp1 = out.indexOf(0x20, start);
    const sp2 = out.indexOf(0x20, sp1 + 1);
    const sp3 = out.indexOf(0x20, sp2 + 1);
    const oidEnd = sp3 < 0 || sp3 > tab ? tab : sp3;
    if (sp1 < 0 || sp2 < 0 || sp2 > tab) throw new Error(`unexpected ls-tree output: ${out.toString('utf8', start, Math.min(end, start + 80))}`);
    const mode = shared(out.toString('latin1', start, sp1));
    const type = shared(out.toString('latin1', sp1 + 1, sp2));
    const oid = out.toString('latin1', sp2 + 1, oidEnd);
    const size = oidEnd < tab ? out.toString('latin1', oidEnd, tab).trim() : undefined;
    const path = out.toString('utf8', tab + 1, end);
    const entry: TreeEntry = { path: prefix ? `${prefix}/${path}` : path, mode, type: type as TreeEntry['type'], oid };
    if (size !== undefined && size !== '-') entry.size = Number(size);
    entries.push(entry);
    start = end + 1;
  }
  return entries;
}

/** Modes and types repeat: one shared string each instead of one per entry. */
const SHARED = new Map(['100644', '100755', '120000', '160000', '040000', 'blob', 'tree', 'commit'].map((s) => [s, s]));
function shared(field: string): string {
  return SHARED.get(field) ?? field;
}

const NULL_OID = /^0+$/;
const NULL_MODE = '000000';

/** `git diff-tree -r -z` raw output: ":<old mode> <new mode> <old oid> <new oid> <status>\0<path>\0". */
export function parseDiffTree(out: Buffer): TreeChange[] {
  const parts = splitNul(out);
  const changes: TreeChange[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const meta = parts[i];
    if (!meta.startsWith(':')) throw new Error(`unexpected diff-tree output: ${meta.slice(0, 80)}`);
    const [oldMode, newMode, oldOid, newOid, status] = meta.slice(1).split(' ');
    changes.push({
      path: parts[i + 1],
      status: status.charAt(0) as TreeChange['status'],
      oldOid: NULL_OID.test(oldOid) ? null : oldOid,
      newOid: NULL_OID.test(newOid) ? null : newOid,
      oldMode: oldMode === NULL_MODE ? null : oldMode,
      newMode: newMode === NULL_MODE ? null : newMode,
    });
  }
  return changes;
}

/** `git log -z --format=LOG_FORMAT`: committer date as UTC ISO-8601 with milliseconds. */
export function parseLog(out: Buffer): GitCommit[] {
  const parts = out.toString('utf8').split('\0');
  const commits: GitCommit[] = [];
  for (let i = 0; i + LOG_FIELDS <= parts.length; i += LOG_FIELDS) {
    const [sha, parents, authorName, authorEmail, committerTime, subject] = parts.slice(i, i + LOG_FIELDS);
    // -z separates records with NUL and the format separates fields with NUL: one flat list.
    commits.push({
      sha: sha.replace(/^\n/, ''),
      parents: parents === '' ? [] : parents.split(' '),
      author_name: authorName,
      author_email: authorEmail,
      subject,
      committed_at: new Date(Number(committerTime) * 1000).toISOString(),
    });
  }
  return commits;
}
