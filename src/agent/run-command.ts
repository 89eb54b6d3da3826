/** Run an --apply/--delete command through `sh -c`, content on stdin, keeping only the tail of its output. */
import { spawn } from 'node:child_process';

export interface CommandResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Failure to start at all (e.g. no `sh`). */
  spawnError: string | null;
  stdoutTail: string;
  stderrTail: string;
}

export interface RunCommandOptions {
  command: string;
  stdin: string;
  env: Record<string, string>;
  timeoutMs: number;
  /** Bytes of stdout/stderr to keep (the end of each). */
  keepBytes?: number;
  cwd?: string;
}

/**
 * The child runs in its own process group (detached) for two reasons: a Ctrl-C in the agent's
 * terminal must not kill a half-done `kubectl apply` (the agent finishes the apply, then exits),
 * and a timeout must kill the whole pipeline the shell started, not just the shell.
 */
export function runCommand({ command, stdin, env, timeoutMs, keepBytes = 2048, cwd }: RunCommandOptions): Promise<CommandResult> {
  return new Promise((resolve) => {
    const stdout = new TailBuffer(keepBytes);
    const stderr = new TailBuffer(keepBytes);
    let timedOut = false;
    let settled = false;
    const child = spawn('sh', ['-c', command], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const finish = (result: Omit<CommandResult, 'stdoutTail' | 'stderrTail' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...result, timedOut, stdoutTail: stdout.text(), stderrTail: stderr.text() });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err) => finish({ code: null, signal: null, spawnError: err.message }));
    child.on('close', (code, signal) => finish({ code, signal, spawnError: null }));
    // A command that does not read stdin closes the pipe early: EPIPE is not the command's failure.
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
  });
}

/** Describe how a command ended, for logs and event messages. */
export function describeExit(command: string, r: CommandResult): string {
  if (r.spawnError) return `could not start \`${command}\`: ${r.spawnError}`;
  if (r.timedOut) return `\`${command}\` timed out and was killed`;
  if (r.signal) return `\`${command}\` was killed by ${r.signal}`;
  return `\`${command}\` exited with code ${r.code}`;
}

/** Keeps the last `limit` bytes written to it. */
class TailBuffer {
  #chunks: Buffer[] = [];
  #size = 0;
  #dropped = false;
  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - this.#chunks[0].length >= this.limit) {
      this.#size -= this.#chunks.shift()!.length;
      this.#dropped = true;
    }
  }

  text(): string {
    const all = Buffer.concat(this.#chunks);
    const cut = all.length > this.limit;
    const tail = cut ? all.subarray(all.length - this.limit) : all;
    // Decoding a cut multi-byte character yields U+FFFD at the start; harmless in a log line.
    return `${cut || this.#dropped ? '…' : ''}${tail.toString('utf8')}`.trim();
  }
}
