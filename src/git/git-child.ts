/** A long-lived git child (`cat-file --batch`, `diff-tree --stdin`): spawned with the daemon's git environment, its stderr kept for messages. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { GitError, summarizeStderr } from './git-error.js';
import { gitEnv } from './run-git.js';

/** Most stderr kept between two takeStderr() calls. */
const STDERR_KEPT = 8192;

export interface GitChildHandlers {
  onStdout(chunk: Buffer): void;
  /** Once the child cannot go on: git missing, or the child exited (its stderr in the message). */
  onFail(err: GitError): void;
}

export class GitChild {
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = '';

  constructor(cwd: string, args: string[], handlers: GitChildHandlers) {
    const what = `git ${args[0]}`;
    const child = spawn('git', args, { cwd, env: gitEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.on('data', (chunk: Buffer) => handlers.onStdout(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      if (this.stderr.length < STDERR_KEPT) this.stderr += chunk.toString('utf8');
    });
    child.stdin.on('error', () => undefined); // reported through 'close'
    child.on('error', (e: NodeJS.ErrnoException) =>
      handlers.onFail(e.code === 'ENOENT' ? new GitError('GIT_NOT_INSTALLED', 'git is not installed or not on PATH') : new GitError('GIT_FAILED', `${what}: ${e.message}`)),
    );
    child.on('close', (code) => handlers.onFail(new GitError('GIT_FAILED', `${what} stopped: ${summarizeStderr(this.stderr) || `exit code ${code}`}`)));
  }

  write(text: string): void {
    this.child.stdin.write(text);
  }

  /** What git wrote to stderr since the last call, summarized ('' when nothing). */
  takeStderr(): string {
    const text = summarizeStderr(this.stderr);
    this.stderr = '';
    return text;
  }

  kill(): void {
    this.child.kill();
  }

  /** End its input: it exits once it has answered what it was asked. */
  endInput(): void {
    this.child.stdin.end();
  }

  /** End its input and wait for it to exit (SIGKILL after 2 s). */
  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      this.child.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.stdin.end();
    });
  }
}
