/** Run the real `git` for plumbing whose output is bytes (-z listings): never prompts, never hangs on a password. */
import { spawn } from 'node:child_process';
import { GitError, summarizeStderr } from './git-error.js';

/** The environment every git child gets: no prompts (HTTPS or SSH), stable messages, no optional locks in the user's repo. */
export function gitEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    // ssh must fail instead of asking for a password or a host-key confirmation.
    GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes',
    GIT_OPTIONAL_LOCKS: '0',
    LC_ALL: 'C',
    ...extra,
  };
}

export interface GitResult {
  stdout: Buffer;
  stderr: string;
  code: number;
}

/** Run git in `cwd`; resolves with the exit code (callers decide which codes are failures). */
export function runGitRaw(cwd: string, args: string[], input?: string | Buffer): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env: gitEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      if (err.length < 64 * 1024) err += chunk.toString('utf8');
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'ENOENT'
          ? new GitError('GIT_NOT_INSTALLED', 'git is not installed or not on PATH (brokkr-sync needs the git command)')
          : new GitError('GIT_FAILED', `cannot run git: ${e.message}`),
      );
    });
    child.on('close', (code) => resolve({ stdout: Buffer.concat(out), stderr: err, code: code ?? 128 }));
    child.stdin.on('error', () => undefined); // git may exit before reading its input
    child.stdin.end(input);
  });
}

/** Run git and return stdout, turning a non-zero exit into a GitError quoting git's stderr. */
export async function runGit(cwd: string, args: string[], input?: string | Buffer): Promise<Buffer> {
  const result = await runGitRaw(cwd, args, input);
  if (result.code !== 0) {
    throw new GitError('GIT_FAILED', `git ${args[0]} failed: ${summarizeStderr(result.stderr) || `exit code ${result.code}`}`);
  }
  return result.stdout;
}
