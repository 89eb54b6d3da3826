/**
 * Repositories written with `git fast-import`: thousands of files and hundreds of commits in a
 * second, and large blobs streamed into git without ever being a file in a working tree.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GIT_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
};

/** A blob produced piecewise: `bytes` bytes made of `chunk` repeated (never held in memory whole). */
export interface StreamedBlob {
  bytes: number;
  chunk: Buffer;
}

export type FileOp =
  | { op: 'write'; path: string; data: string | Buffer | StreamedBlob; mode?: '100644' | '100755' }
  | { op: 'symlink'; path: string; target: string }
  | { op: 'delete'; path: string };

export const write = (path: string, data: string | Buffer | StreamedBlob): FileOp => ({ op: 'write', path, data });
export const symlink = (path: string, target: string): FileOp => ({ op: 'symlink', path, target });
export const remove = (path: string): FileOp => ({ op: 'delete', path });

/** fast-import quotes paths with C-style escapes; this also covers spaces, newlines and quotes. */
function quotePath(path: string): string {
  if (!/[\s"\\]/.test(path) && !path.startsWith('"')) return path;
  const bytes = Buffer.from(path, 'utf8');
  let out = '"';
  for (const b of bytes) {
    if (b === 0x22) out += '\\"';
    else if (b === 0x5c) out += '\\\\';
    else if (b === 0x0a) out += '\\n';
    else if (b < 0x20 || b >= 0x7f) out += `\\${b.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(b);
  }
  return `${out}"`;
}

/** Builds one fast-import stream: commits on branches, each a list of file operations. */
export class ImportStream {
  readonly #parts: (Buffer | StreamedBlob)[] = [];
  #mark = 0;
  #time = 1_700_000_000;

  #text(s: string): void {
    this.#parts.push(Buffer.from(s, 'utf8'));
  }

  /** Append a commit to `ref` (on top of its previous commit, or `from`); returns its mark (":N"). */
  commit(ref: string, message: string, ops: FileOp[], opts: { from?: string; deleteAll?: boolean } = {}): string {
    const mark = `:${++this.#mark}`;
    this.#time += 60;
    this.#text(`commit ${ref}\nmark ${mark}\n`);
    this.#text(`author Crash Test <crash@example.com> ${this.#time} +0000\ncommitter Crash Test <crash@example.com> ${this.#time} +0000\n`);
    this.#text(`data ${Buffer.byteLength(message)}\n${message}\n`);
    if (opts.from) this.#text(`from ${opts.from}\n`);
    if (opts.deleteAll) this.#text('deleteall\n');
    for (const op of ops) {
      if (op.op === 'delete') this.#text(`D ${quotePath(op.path)}\n`);
      else if (op.op === 'symlink') this.#text(`M 120000 inline ${quotePath(op.path)}\ndata ${Buffer.byteLength(op.target)}\n${op.target}\n`);
      else {
        this.#text(`M ${op.mode ?? '100644'} inline ${quotePath(op.path)}\n`);
        const data = op.data;
        if (typeof data === 'string' || Buffer.isBuffer(data)) {
          const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
          this.#text(`data ${buf.length}\n`);
          this.#parts.push(buf);
        } else {
          this.#text(`data ${data.bytes}\n`);
          this.#parts.push(data);
        }
        this.#text('\n');
      }
    }
    this.#text('\n');
    return mark;
  }

  /** Point `ref` at a commit (a mark or a sha). */
  reset(ref: string, from: string): void {
    this.#text(`reset ${ref}\nfrom ${from}\n\n`);
  }

  /** Feed the stream to `git fast-import` in `repoDir`, streaming large blobs with back-pressure. */
  async run(repoDir: string): Promise<void> {
    this.#text('done\n');
    const child = spawn('git', ['fast-import', '--quiet', '--done'], { cwd: repoDir, env: GIT_ENV, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const stdin = child.stdin;
    const send = (buf: Buffer) => (stdin.write(buf) ? Promise.resolve() : new Promise<void>((r) => stdin.once('drain', () => r())));
    try {
      for (const part of this.#parts) {
        if (Buffer.isBuffer(part)) {
          await send(part);
          continue;
        }
        for (let left = part.bytes; left > 0; left -= part.chunk.length) {
          await send(left >= part.chunk.length ? part.chunk : part.chunk.subarray(0, left));
        }
      }
    } finally {
      stdin.end();
    }
    const code = await exited;
    if (code !== 0) throw new Error(`git fast-import failed (exit ${code}): ${stderr.trim()}`);
  }
}

/** A new non-bare repository (branch main, no commits); sync reads committed objects only. */
export function makeImportRepo(prefix = 'brokkr-rel-repo-'): { path: string; git(...args: string[]): string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: path, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  git('init', '-q', '-b', 'main');
  return { path, git, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
