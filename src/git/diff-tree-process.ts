/**
 * A long-lived `git diff-tree --stdin`: the recursive diff of two trees in one request, however
 * deep the change (walking tree objects through cat-file takes a round trip per level).
 *
 * Protocol: each request is `<tree> <tree>` then an empty line. git echoes the pair as a header,
 * writes the changes (-z), and answers the empty line with an empty line, flushing its output: the
 * end of the answer. An object git cannot read gets an error on stderr and no header.
 */
import { GitChild } from './git-child.js';
import { GitError } from './git-error.js';
import type { TreeChange } from './git-source.js';
import { parseDiffTree } from './parse-git-output.js';

/** Requests one child serves before the next starts (git keeps every tree it parsed in memory). */
const REQUESTS_PER_CHILD = 500;
const TREE_MODE = '040000';

interface Waiting {
  header: string;
  resolve: (changes: TreeChange[]) => void;
  reject: (err: Error) => void;
}

export class DiffTreeProcess {
  private child: GitChild | null = null;
  private served = 0;
  private buf: Buffer = Buffer.alloc(0);
  /** Where the scan of the answer in `buf` stopped (the start of an incomplete change). */
  private scanned = 0;
  private waiting: Waiting | null = null;
  /** One diff at a time: answers carry no request id. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly cwd: string) {}

  /**
   * `git diff-tree -r --no-renames` of two trees: changes to files (no tree entries), in git's
   * order. `onTree` gets each changed directory's path and new tree id (null when it is gone).
   */
  diff(a: string, b: string, onTree?: (path: string, oid: string | null) => void): Promise<TreeChange[]> {
    const run = this.queue.then(() => this.once(a, b, onTree));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Start a new child on the next request (the old one exits at EOF). */
  restartWhenIdle(): void {
    if (this.waiting) return;
    this.child?.endInput();
    this.child = null;
  }

  /** End the child: it answers the diff in flight first; one that hangs is killed after 2 s and its diff fails. */
  async close(): Promise<void> {
    await this.child?.close();
  }

  private once(a: string, b: string, onTree?: (path: string, oid: string | null) => void): Promise<TreeChange[]> {
    if (this.served >= REQUESTS_PER_CHILD) this.restartWhenIdle();
    const child = this.start();
    this.served++;
    return new Promise<TreeChange[]>((resolve, reject) => {
      this.waiting = {
        header: `${a} ${b}`,
        resolve: (changes) => {
          const files: TreeChange[] = [];
          for (const c of changes) {
            const isTree = (c.oldMode === TREE_MODE || c.oldMode === null) && (c.newMode === TREE_MODE || c.newMode === null);
            if (!isTree) files.push(c);
            else if (c.newMode === TREE_MODE) onTree?.(c.path, c.newOid);
            else onTree?.(c.path, null);
          }
          resolve(files);
        },
        reject,
      };
      child.write(`${a} ${b}\n\n`);
    });
  }

  private start(): GitChild {
    if (this.child) return this.child;
    // -t: the changed directories too, so the caller learns their new tree ids (filtered out of the changes).
    const child: GitChild = new GitChild(this.cwd, ['diff-tree', '--stdin', '-r', '-t', '-z', '--no-renames', '--no-ext-diff'], {
      onStdout: (chunk) => {
        if (this.child === child) this.onData(chunk);
      },
      onFail: (err) => {
        if (this.child !== child) return;
        this.child = null;
        this.settle(err);
      },
    });
    this.child = child;
    this.served = 0;
    this.buf = Buffer.alloc(0);
    this.scanned = 0;
    return child;
  }

  private settle(result: TreeChange[] | Error): void {
    const waiting = this.waiting;
    this.waiting = null;
    if (!waiting) return;
    if (result instanceof Error) waiting.reject(result);
    else waiting.resolve(result);
  }

  /** An answer is whole at the empty line after the header and the changes (pairs of NUL-ended fields). */
  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const nl = this.buf.indexOf(0x0a);
    if (nl < 0 || !this.waiting) return;
    const header = this.buf.toString('utf8', 0, nl);
    if (header !== this.waiting.header) {
      // No header: git could not read a tree (its error is on stderr). Skip to the end of this answer.
      this.buf = this.buf.subarray(nl + 1);
      this.scanned = 0;
      const detail = this.child?.takeStderr() || `unexpected output ${JSON.stringify(header.slice(0, 100))}`;
      this.settle(new GitError('GIT_FAILED', `git diff-tree: ${detail}`));
      return;
    }
    // Whole changes already seen are not scanned again when the next chunk comes.
    let at = Math.max(nl + 1, this.scanned);
    for (;;) {
      this.scanned = at;
      if (at >= this.buf.length) return;
      if (this.buf[at] === 0x0a) break; // the empty line: the answer is whole
      const metaEnd = this.buf.indexOf(0, at);
      const pathEnd = metaEnd < 0 ? -1 : this.buf.indexOf(0, metaEnd + 1);
      if (pathEnd < 0) return;
      at = pathEnd + 1;
    }
    const changes = this.buf.subarray(nl + 1, at);
    this.buf = this.buf.subarray(at + 1);
    this.scanned = 0;
    try {
      this.settle(parseDiffTree(changes));
    } catch (err) {
      this.settle(new GitError('GIT_FAILED', (err as Error).message));
    }
  }
}
