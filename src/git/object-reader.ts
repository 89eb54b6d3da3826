/** Commits and trees read as raw objects through the long-lived `cat-file --batch`: a sync's steady-state reads without spawning git (whose fork cost grows with the daemon's RSS). */
import type { GitCommit, TreeEntry } from './git-source.js';

/** One entry of a raw tree object. */
export interface RawTreeEntry {
  name: string;
  /** Six digits, as ls-tree prints them ('040000' for trees). */
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  oid: string;
}

/** Parse a tree object: `<mode> SP <name> NUL <raw oid>` repeated; oidBytes is 20 (sha1) or 32. */
export function parseTreeObject(body: Buffer, oidBytes: number): RawTreeEntry[] {
  const entries: RawTreeEntry[] = [];
  let i = 0;
  while (i < body.length) {
    const space = body.indexOf(0x20, i);
    const nul = body.indexOf(0, space);
    if (space < 0 || nul < 0 || nul + 1 + oidBytes > body.length) throw new Error('malformed tree object');
    const mode = body.toString('latin1', i, space).padStart(6, '0');
    const name = body.toString('utf8', space + 1, nul);
    const oid = body.toString('hex', nul + 1, nul + 1 + oidBytes);
    i = nul + 1 + oidBytes;
    entries.push({ mode, name, oid, type: mode === '040000' ? 'tree' : mode === '160000' ? 'commit' : 'blob' });
  }
  return entries;
}

/**
 * Parse a commit object into a GitCommit, or null when it needs git's own formatting (a
 * non-UTF-8 `encoding` header, an unparsable identity line): callers then ask `git log`.
 */
export function parseCommitObject(sha: string, body: Buffer): GitCommit | null {
  const text = body.toString('utf8');
  const split = text.indexOf('\n\n');
  const headers = (split < 0 ? text : text.slice(0, split)).split('\n');
  const message = split < 0 ? '' : text.slice(split + 2);
  const parents: string[] = [];
  let author: { name: string; email: string } | null = null;
  let committed: number | null = null;
  for (const line of headers) {
    if (line.startsWith('parent ')) parents.push(line.slice(7));
    else if (line.startsWith('author ')) {
      const m = /^author (.*?) ?<([^>]*)> (\d+) [+-]\d{4}$/.exec(line);
      if (m) author = { name: m[1], email: m[2] };
    } else if (line.startsWith('committer ')) {
      const m = / (\d+) [+-]\d{4}$/.exec(line);
      if (m) committed = Number(m[1]);
    } else if (line.startsWith('encoding ') && !/^encoding utf-?8$/i.test(line)) return null;
  }
  if (!author || committed === null) return null;
  // git's %s: the first paragraph of the message, its lines joined by spaces.
  const subject = message.replace(/^\n+/, '').split(/\n[ \t]*\n/)[0].trim().split('\n').map((l) => l.trim()).join(' ');
  return {
    sha,
    parents,
    author_name: author.name,
    author_email: author.email,
    subject,
    committed_at: new Date(committed * 1000).toISOString(),
  };
}

/** The root tree id named by a commit object's first line, or null when it does not start with one. */
export function commitTreeOf(body: Buffer): string | null {
  const m = /^tree ([0-9a-f]{40}|[0-9a-f]{64})\n/.exec(body.toString('latin1', 0, 70));
  return m ? m[1]! : null;
}

/** Reads a tree object by id (null when git does not have it). */
export type TreeReader = (oid: string) => Promise<RawTreeEntry[] | null>;

/** Thrown when a tree on the way cannot be read: callers fall back to the git command. */
export class MissingTreeError extends Error {}

/** Every non-tree entry below a tree, paths prefixed, in `ls-tree -r` order (subtrees read in parallel). */
export async function walkTree(read: TreeReader, oid: string, prefix: string): Promise<TreeEntry[]> {
  const entries = await read(oid);
  if (!entries) throw new MissingTreeError(`tree ${oid} not found`);
  const parts = await Promise.all(
    entries.map((e) => {
      const path = prefix === '' ? e.name : `${prefix}/${e.name}`;
      return e.type === 'tree' ? walkTree(read, e.oid, path) : Promise.resolve([{ path, mode: e.mode, type: e.type, oid: e.oid }]);
    }),
  );
  return parts.flat();
}
