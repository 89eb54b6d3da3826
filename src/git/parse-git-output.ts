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

/** `git ls-tree -r -z --long`: "<mode> <type> <oid> <size>\t<path>\0", size padded, '-' for non-blobs. */
export function parseLsTree(out: Buffer, prefix = ''): TreeEntry[] {
  const entries: TreeEntry[] = [];
  for (const record of splitNul(out)) {
    const tab = record.indexOf('\t');
    const [mode, type, oid, size] = record.slice(0, tab).trim().split(/\s+/);
    const path = record.slice(tab + 1);
    const entry: TreeEntry = { path: prefix ? `${prefix}/${path}` : path, mode, type: type as TreeEntry['type'], oid };
    if (size !== undefined && size !== '-') entry.size = Number(size);
    entries.push(entry);
  }
  return entries;
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
