/**
 * The sync engine's view of a Git repository: resolve a ref, list commits, diff two trees, read
 * blobs. Only committed content is ever visible through it. Implemented over the real `git`
 * binary (simple-git for porcelain, long-lived `git cat-file --batch` for blobs).
 */

export interface GitCommit {
  sha: string;
  parents: string[];
  author_name: string;
  author_email: string;
  subject: string;
  /** Committer date, UTC ISO-8601 with milliseconds. */
  committed_at: string;
}

/** One entry of a tree listing (`git ls-tree -r`). */
export interface TreeEntry {
  /** Path relative to the repository root, '/'-separated, no leading slash. */
  path: string;
  /** '100644' | '100755' | '120000' (symlink) | '160000' (submodule) ... */
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  oid: string;
  /** Blob size in bytes (undefined for trees and submodules). */
  size?: number;
}

/** One changed path between two commits (`git diff-tree -r --no-renames`). */
export interface TreeChange {
  path: string;
  status: 'A' | 'M' | 'D' | 'T';
  oldOid: string | null;
  newOid: string | null;
  oldMode: string | null;
  newMode: string | null;
}

export interface GitSource {
  /** Human-readable repository identity with credentials redacted (for logs and the generator name). */
  readonly displayName: string;
  /** Bring a remote's tracking ref up to date (no-op for a local repository). */
  fetch(): Promise<void>;
  /** The branch checked out in the repository (used when --branch is not given). */
  currentBranch(): Promise<string>;
  /** Commit sha at the tip of the branch, or null when the branch does not exist. */
  resolveBranch(branch: string): Promise<string | null>;
  getCommit(sha: string): Promise<GitCommit>;
  /** Does `ancestor` lie on the history of `descendant`? */
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
  /** First-parent commits after `from` (exclusive) up to `to` (inclusive) that descend from `from`, oldest first. */
  listFirstParentCommits(from: string, to: string): Promise<GitCommit[]>;
  /** Recursive listing of a commit's tree, optionally limited to a directory prefix. */
  listTree(commit: string, dir?: string): Promise<TreeEntry[]>;
  /** Object id of the tree at `dir` in `commit` ('' = root), null when it does not exist. */
  treeId(commit: string, dir: string): Promise<string | null>;
  /** Paths that differ between two commits (from = null: everything in `to` is added). */
  diffTrees(from: string | null, to: string): Promise<TreeChange[]>;
  /** Blob contents by object id; at most maxBytes each (larger blobs are reported, not read). */
  readBlobs(oids: string[], maxBytes: number): Promise<Map<string, Buffer | { tooLarge: number }>>;
  close(): Promise<void>;
}
