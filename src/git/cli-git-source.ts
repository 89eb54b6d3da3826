/** GitSource over the real `git` binary: -z plumbing for listings, long-lived cat-file children for objects. */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { CatFileProcess } from './cat-file-process.js';
import { DiffTreeProcess } from './diff-tree-process.js';
import { GitError, summarizeStderr } from './git-error.js';
import type { GitCommit, GitSource, TreeChange, TreeEntry } from './git-source.js';
import { MissingTreeError, commitTreeOf, parseCommitObject, parseTreeObject, walkTree, type TreeReader } from './object-reader.js';
import { LOG_FORMAT, parseDiffTree, parseLog, parseLsTree } from './parse-git-output.js';
import { runGit, runGitRaw } from './run-git.js';

const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
/** How far a first-parent walk through cat-file goes before asking git (a long backlog is rare and one spawn then is nothing). */
const WALK_LIMIT = 64;
/** Parsed commits kept, least recently used dropped (immutable objects; a pass reads the same few more than once). */
const COMMIT_CACHE = 256;
/**
 * Blob sizes kept (immutable by id, like commits), and the new tree ids of the directories a diff
 * found changed: a commit's build lists its stacks' directories and checks their blobs' sizes right
 * after the diff, and from these that is no round trip to git — a round trip is a wait for a core
 * when the machine is busy.
 */
const BLOB_SIZE_CACHE = 1024;
const CHANGED_DIRS_CACHE = 1024;

export interface CliGitSourceOptions {
  /** Directory git runs in: a work tree's top level or a bare repository. */
  cwd: string;
  displayName: string;
  /** Bring refs up to date (remote clones); local repositories need nothing. */
  fetch?: () => Promise<void>;
}

/** Reads committed objects only: nothing here looks at a working tree or an index. */
export class CliGitSource implements GitSource {
  readonly displayName: string;
  private readonly cwd: string;
  private readonly fetcher?: () => Promise<void>;
  private readonly blobs: CatFileProcess;
  private readonly infos: CatFileProcess;
  private emptyTree: string | null = null;
  /** What a commit object gave: the commit when it parses here (else git log is asked), and its root tree. */
  private readonly commits = new LRUCache<string, { commit: GitCommit | null; tree: string | null }>({ max: COMMIT_CACHE });
  private readonly blobSizes = new LRUCache<string, number>({ max: BLOB_SIZE_CACHE });
  /** `<commit>:<dir>` → tree id, for the directories a diff found changed (its new side). */
  private readonly changedDirs = new LRUCache<string, string>({ max: CHANGED_DIRS_CACHE });
  private readonly differ: DiffTreeProcess;
  /** Device and inodes of the repository directory and its .git when the readers last looked. */
  private identity: string | null = null;
  /** Tree objects by id through the long-lived reader; null when it does not have them. */
  private readonly readTree: TreeReader = async (oid) => {
    const { header, body } = await this.blobs.request(oid);
    return header && header.type === 'tree' && body ? parseTreeObject(body, oid.length / 2) : null;
  };

  constructor(options: CliGitSourceOptions) {
    this.cwd = options.cwd;
    this.displayName = options.displayName;
    this.fetcher = options.fetch;
    this.blobs = new CatFileProcess(this.cwd, 'batch');
    this.infos = new CatFileProcess(this.cwd, 'batch-check');
    this.differ = new DiffTreeProcess(this.cwd);
  }

  async fetch(): Promise<void> {
    await this.fetcher?.();
  }

  async currentBranch(): Promise<string> {
    const result = await runGitRaw(this.cwd, ['symbolic-ref', '-q', '--short', 'HEAD']);
    if (result.code !== 0) {
      throw new GitError('DETACHED_HEAD', `HEAD of ${this.displayName} is not on a branch; pass --branch to choose the branch to track`);
    }
    return result.stdout.toString('utf8').trim();
  }

  async resolveBranch(branch: string): Promise<string | null> {
    if (branch === '' || /[\s\0~^:?*[\\]|\.\.|@\{/.test(branch) || branch.startsWith('-')) {
      throw new GitError('BRANCH_NOT_FOUND', `invalid branch name ${JSON.stringify(branch)}`);
    }
    const ref = branch.startsWith('refs/') ? branch : `refs/heads/${branch}`;
    this.checkIdentity();
    // Through the long-lived reader (it reads the ref afresh on every request), the commit itself
    // with it: the pass asks for it next. A "missing" answer is confirmed by a fresh git, as for
    // trees: the reader may be stale (a repository re-cloned in place).
    const { header, body } = await this.blobs.request(`${ref}^{commit}`);
    if (header && header.type === 'commit') {
      if (body) this.rememberCommit(header.oid, body);
      return header.oid;
    }
    const result = await runGitRaw(this.cwd, ['rev-parse', '-q', '--verify', `${ref}^{commit}`]);
    if (result.code !== 0) return null;
    this.restartReaders();
    return result.stdout.toString('utf8').trim();
  }

  async getCommit(sha: string): Promise<GitCommit> {
    this.checkOid(sha);
    const cached = this.commits.get(sha)?.commit;
    if (cached) return cached;
    const { header, body } = await this.blobs.request(sha);
    const parsed = header && header.type === 'commit' && body ? this.rememberCommit(sha, body) : null;
    // Not readable here (or needs git's re-encoding): git log decides, and says why.
    return parsed ?? this.logCommit(sha);
  }

  /** Keep a commit object's root tree and, when it parses here, the commit. */
  private rememberCommit(sha: string, body: Buffer): GitCommit | null {
    const commit = parseCommitObject(sha, body);
    this.commits.set(sha, { commit, tree: commitTreeOf(body) });
    return commit;
  }

  private async logCommit(sha: string): Promise<GitCommit> {
    const result = await runGitRaw(this.cwd, this.logArgs(['-1', '--no-walk', this.checkOid(sha)]));
    const [commit] = result.code === 0 ? parseLog(result.stdout) : [];
    if (!commit) throw new GitError('OBJECT_NOT_FOUND', `commit ${sha} not found in ${this.displayName}`);
    return commit;
  }

  /**
   * The first-parent chain from `to` back to `from` (exclusive), oldest first, read through the
   * long-lived reader; null when `from` is not within WALK_LIMIT first parents (then git decides).
   */
  private async firstParentChain(from: string, to: string): Promise<GitCommit[] | null> {
    const chain: GitCommit[] = [];
    let sha = to;
    try {
      while (chain.length < WALK_LIMIT) {
        if (sha === from) return chain.reverse();
        const commit = await this.getCommit(sha);
        chain.push(commit);
        if (commit.parents.length === 0) return null;
        sha = commit.parents[0];
      }
    } catch {
      return null; // an unreadable commit on the way: let git answer
    }
    return null;
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    if ((await this.firstParentChain(this.checkOid(ancestor), this.checkOid(descendant))) !== null) return true;
    const result = await runGitRaw(this.cwd, ['merge-base', '--is-ancestor', this.checkOid(ancestor), this.checkOid(descendant)]);
    if (result.code === 0) return true;
    // Exit 1 is "no"; an unknown commit (gone after a force-push and gc) is not an ancestor either.
    if (result.code === 1 || /not a valid commit|bad object|no such commit/i.test(result.stderr)) return false;
    throw new GitError('GIT_FAILED', `git merge-base failed: ${summarizeStderr(result.stderr)}`);
  }

  async listFirstParentCommits(from: string, to: string): Promise<GitCommit[]> {
    // Every commit on the first-parent chain from `to` down to `from` descends from `from`.
    const chain = await this.firstParentChain(this.checkOid(from), this.checkOid(to));
    if (chain !== null) return chain;
    // --ancestry-path: after a `git pull` merge the first-parent line runs through the puller's own
    // commits, which do not contain `from`; diffing `from` against them would undo its changes
    // (deleting stacks) until the merge restores them. Only commits descending from `from` count.
    const out = await this.log(['--first-parent', '--ancestry-path', '--reverse', `${this.checkOid(from)}..${this.checkOid(to)}`]);
    return parseLog(out);
  }

  async listTree(commit: string, dir = ''): Promise<TreeEntry[]> {
    const tree = await this.treeId(commit, dir);
    if (tree === null) return [];
    if (dir !== '') {
      // One stack's directory: its few trees and blob sizes through the long-lived readers. The
      // whole tree (a snapshot) stays one ls-tree: one spawn for tens of thousands of entries.
      try {
        const entries = await walkTree(this.readTree, tree, dir);
        const sizes = await Promise.all(entries.map((e) => (e.type === 'blob' ? this.blobSize(e.oid) : null)));
        entries.forEach((e, i) => {
          const size = sizes[i]?.header?.size;
          if (size !== undefined) e.size = size;
        });
        return entries;
      } catch (err) {
        if (!(err instanceof MissingTreeError)) throw err;
      }
    }
    return parseLsTree(await runGit(this.cwd, ['ls-tree', '-r', '-z', '--long', tree]), dir);
  }

  async treeId(commit: string, dir: string): Promise<string | null> {
    const known = this.cachedTreeId(this.checkOid(commit), dir);
    return known !== undefined ? known : this.lookupTreeId(commit, dir);
  }

  /** treeId through git: the long-lived reader, confirmed by a fresh git when it says "missing". */
  private async lookupTreeId(commit: string, dir: string): Promise<string | null> {
    const name = dir === '' ? `${this.checkOid(commit)}^{tree}` : `${this.checkOid(commit)}:${dir}`;
    if (/[\n\r]/.test(name)) {
      // cat-file's line protocol cannot carry a line break; rare enough to spawn ls-tree.
      const out = await runGit(this.cwd, ['--literal-pathspecs', 'ls-tree', '-z', '-d', commit, '--', dir]);
      const entry = parseLsTree(out).find((e) => e.path === dir);
      return entry && entry.type === 'tree' ? entry.oid : null;
    }
    const { header } = await this.infos.request(name);
    if (header) return header.type === 'tree' ? header.oid : null;
    return this.confirmMissingTree(commit, dir);
  }

  /** A changed directory's tree id as the last diff to this commit named it; undefined when it did not. */
  private cachedTreeId(commit: string, dir: string): string | undefined {
    return dir === '' ? undefined : this.changedDirs.get(`${commit}:${dir}`);
  }

  /** A blob's header from the size cache, else through the long-lived batch-check reader. */
  private async blobSize(oid: string): Promise<{ header: { oid: string; type: string; size: number } | null }> {
    const size = this.blobSizes.get(oid);
    if (size !== undefined) return { header: { oid, type: 'blob', size } };
    const { header } = await this.infos.request(oid);
    if (header && header.type === 'blob') this.blobSizes.set(oid, header.size);
    return { header };
  }

  /**
   * cat-file says "missing" both for a path the commit does not have and for an object git cannot
   * read: a corrupt repository, or this long-lived process still reading a repository that was
   * deleted and cloned again in place. Taking the second for the first would make every stack
   * look deleted, so ask a fresh git, which fails on unreadable trees, before answering null.
   */
  private async confirmMissingTree(commit: string, dir: string): Promise<string | null> {
    if (dir === '') {
      const parsed = await runGitRaw(this.cwd, ['rev-parse', '-q', '--verify', `${this.checkOid(commit)}^{tree}`]);
      const tree = parsed.stdout.toString('utf8').trim();
      if (parsed.code !== 0 || (await runGitRaw(this.cwd, ['cat-file', '-e', tree])).code !== 0) {
        throw new GitError(
          'OBJECT_NOT_FOUND',
          `the tree of commit ${commit.slice(0, 7)} cannot be read in ${this.displayName}: the repository is missing objects (corrupt, or replaced while being read)`,
        );
      }
      this.restartReaders();
      return tree;
    }
    // ls-tree exits non-zero when a tree on the way is unreadable, and lists nothing for an absent path.
    const out = await runGit(this.cwd, ['--literal-pathspecs', 'ls-tree', '-z', '-d', this.checkOid(commit), '--', dir]);
    const entry = parseLsTree(out).find((e) => e.path === dir);
    if (entry) this.restartReaders(); // the long-lived reader was wrong: it reads a stale repository
    return entry && entry.type === 'tree' ? entry.oid : null;
  }

  /**
   * A repository deleted and cloned again at the same path (an operator's re-clone) leaves the
   * long-lived readers on the old one's open files, answering for objects the new one lacks. Every
   * pass starts by resolving the branch, so that is where a changed directory identity is noticed.
   */
  private checkIdentity(): void {
    let id: string;
    try {
      const dir = statSync(this.cwd);
      let dotGit = '';
      try {
        dotGit = String(statSync(join(this.cwd, '.git')).ino);
      } catch {
        /* a bare repository */
      }
      id = `${dir.dev}:${dir.ino}:${dotGit}`;
    } catch {
      return; // gone: the git calls that follow report it
    }
    if (this.identity !== null && this.identity !== id) this.restartReaders();
    this.identity = id;
  }

  /** Let the long-lived readers start over on their next request (they reopen the repository). */
  private restartReaders(): void {
    this.commits.clear();
    this.blobSizes.clear();
    this.changedDirs.clear();
    this.differ.restartWhenIdle();
    this.blobs.restartWhenIdle();
    this.infos.restartWhenIdle();
  }

  async diffTrees(from: string | null, to: string): Promise<TreeChange[]> {
    if (from !== null) {
      // One request to the long-lived diff-tree, however deep the change, on the root trees as the
      // commit objects name them (cached with the commits). It also names the changed directories'
      // new trees, which the build then looks up. If it fails, a root tree the repository lacks is
      // looked up again to say so; anything else is left to a one-shot git diff-tree.
      const target = this.checkOid(to);
      const rootOf = (commit: string) => this.commits.get(this.checkOid(commit))?.tree ?? this.treeId(commit, '');
      const [a, b] = await Promise.all([rootOf(from), rootOf(to)]);
      if (a !== null && b !== null) {
        try {
          return await this.differ.diff(a, b, (path, oid) => {
            if (oid !== null) this.changedDirs.set(`${target}:${path}`, oid);
          });
        } catch (err) {
          if (!(err instanceof GitError)) throw err;
          await Promise.all([this.lookupTreeId(from, ''), this.lookupTreeId(to, '')]);
        }
      }
    }
    const base = from === null ? await this.emptyTreeId() : this.checkOid(from);
    const out = await runGit(this.cwd, ['diff-tree', '-r', '--no-renames', '--no-ext-diff', '-z', base, this.checkOid(to)]);
    return parseDiffTree(out);
  }

  async readBlobs(oids: string[], maxBytes: number): Promise<Map<string, Buffer | { tooLarge: number }>> {
    const unique = [...new Set(oids)];
    for (const oid of unique) this.checkOid(oid);
    // Sizes first (cheap, no decompression), then contents of the blobs that fit: a 100 MB file
    // is never read, and all requests of each phase are pipelined through one process.
    const headers = await Promise.all(unique.map((oid) => this.blobSize(oid)));
    const result = new Map<string, Buffer | { tooLarge: number }>();
    const wanted: string[] = [];
    headers.forEach(({ header }, i) => {
      const oid = unique[i];
      if (!header || header.type !== 'blob') {
        this.restartReaders(); // if the reader was stale, the next pass reads afresh
        throw new GitError('OBJECT_NOT_FOUND', `blob ${oid} not found in ${this.displayName}`);
      }
      if (header.size > maxBytes) result.set(oid, { tooLarge: header.size });
      else wanted.push(oid);
    });
    const bodies = await Promise.all(wanted.map((oid) => this.blobs.request(oid)));
    bodies.forEach(({ header, body }, i) => {
      if (!header || !body) {
        this.restartReaders();
        throw new GitError('OBJECT_NOT_FOUND', `blob ${wanted[i]} not found in ${this.displayName}`);
      }
      result.set(wanted[i], body);
    });
    return result;
  }

  async close(): Promise<void> {
    await Promise.all([this.blobs.close(), this.infos.close(), this.differ.close()]);
  }

  private logArgs(args: string[]): string[] {
    return ['log', '-z', '--no-color', '--no-show-signature', `--format=${LOG_FORMAT}`, ...args, '--'];
  }

  private async log(args: string[]): Promise<Buffer> {
    return runGit(this.cwd, this.logArgs(args));
  }

  /** The empty tree's id for this repository's hash algorithm (sha1 or sha256). */
  private async emptyTreeId(): Promise<string> {
    this.emptyTree ??= (await runGit(this.cwd, ['hash-object', '-t', 'tree', '--stdin'], '')).toString('utf8').trim();
    return this.emptyTree;
  }

  /** Object ids reach command lines: refuse anything that is not one (no option or revision injection). */
  private checkOid(oid: string): string {
    if (!OID.test(oid)) throw new GitError('OBJECT_NOT_FOUND', `not a full object id: ${JSON.stringify(String(oid).slice(0, 80))}`);
    return oid;
  }
}
