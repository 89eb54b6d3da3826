/** A long-lived `git cat-file --batch` (or `--batch-check`) child: read many objects through one process. */
import { GitChild } from './git-child.js';
import { GitError } from './git-error.js';

/** What git says about an object; null when it is missing. */
export interface ObjectHeader {
  oid: string;
  type: string;
  size: number;
}

export interface ObjectReply {
  header: ObjectHeader | null;
  /** The object's bytes (`--batch` only). */
  body?: Buffer;
}

interface Pending {
  resolve: (reply: ObjectReply) => void;
  reject: (err: Error) => void;
}

/**
 * Requests are written one per line and git answers strictly in order, so a FIFO of pending
 * promises pairs answers with requests; any number may be in flight (pipelining is what makes
 * reading thousands of blobs cheap). The process starts on first use and restarts after a crash.
 */
export class CatFileProcess {
  private child: GitChild | null = null;
  private pending: Pending[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private body: { header: ObjectHeader; need: number; got: number; chunks: Buffer[] } | null = null;
  /** Lines of requests not yet written; they belong to the last entries of `pending`. */
  private outgoing: string[] = [];
  private flushScheduled = false;

  constructor(
    private readonly cwd: string,
    private readonly mode: 'batch' | 'batch-check',
  ) {}

  /** Look up one object by any name git accepts (`oid`, `commit:path`, `commit^{tree}`). */
  request(object: string): Promise<ObjectReply> {
    if (/[\n\r\0]/.test(object)) {
      return Promise.reject(new GitError('GIT_FAILED', 'object names passed to cat-file must not contain line breaks'));
    }
    this.start();
    return new Promise<ObjectReply>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.outgoing.push(`${object}\n`);
      // Requests made in the same tick go out in one write: thousands of tiny writes cost more than git's work.
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const lines = this.outgoing.join('');
    this.outgoing = [];
    if (lines && this.child) this.child.write(lines);
  }

  /**
   * Start a new child on the next request, when nothing is in flight (answers are paired with
   * requests by order, so a child with pending requests must finish them). The old one exits at EOF.
   */
  restartWhenIdle(): void {
    const child = this.child;
    if (!child || this.pending.length > 0 || this.outgoing.length > 0) return;
    this.child = null;
    child.endInput();
  }

  /** Stop the child (pending requests are rejected). */
  async close(): Promise<void> {
    await this.child?.close();
  }

  private start(): GitChild {
    if (this.child) return this.child;
    const child: GitChild = new GitChild(this.cwd, ['cat-file', `--${this.mode}`], {
      onStdout: (chunk) => {
        if (this.child === child) this.onData(chunk); // a replaced child's late output is not ours to parse
      },
      onFail: (err) => {
        if (this.child !== child) return;
        this.child = null;
        this.outgoing = [];
        for (const p of this.pending.splice(0)) p.reject(err);
      },
    });
    this.child = child;
    this.buf = Buffer.alloc(0);
    this.body = null;
    return child;
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.body) {
        const body = this.body;
        const take = Math.min(body.need - body.got, this.buf.length);
        if (take > 0) {
          body.chunks.push(this.buf.subarray(0, take));
          body.got += take;
          this.buf = this.buf.subarray(take);
        }
        if (body.got < body.need) return;
        this.body = null;
        // `need` counts the LF git writes after the contents.
        const data = Buffer.concat(body.chunks, body.need).subarray(0, body.header.size);
        this.pending.shift()?.resolve({ header: body.header, body: data });
        continue;
      }
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) return;
      const line = this.buf.subarray(0, nl).toString('utf8');
      this.buf = this.buf.subarray(nl + 1);
      if (line.endsWith(' missing') || line.endsWith(' ambiguous')) {
        this.pending.shift()?.resolve({ header: null });
        continue;
      }
      const [oid, type, sizeText] = line.split(' ');
      const size = Number(sizeText);
      if (!oid || !type || !Number.isSafeInteger(size)) {
        const child = this.child;
        this.child = null;
        this.outgoing = [];
        child?.kill();
        for (const p of this.pending.splice(0)) p.reject(new GitError('GIT_FAILED', `unexpected git cat-file output: ${line.slice(0, 100)}`));
        return;
      }
      const header = { oid, type, size };
      if (this.mode === 'batch') this.body = { header, need: size + 1, got: 0, chunks: [] };
      else this.pending.shift()?.resolve({ header });
    }
  }
}
