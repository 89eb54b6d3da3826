/** The built CLI as a child process: run to completion, or SIGKILL it at a chosen moment. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const MAIN = join(ROOT, 'dist', 'cli', 'main.js');

export function requireBuild(): void {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does)`);
}

/** The environment without the caller's BROKKR_* settings (a developer's BROKKR_ADMIN_PAK must not leak in). */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BROKKR_')));
  return { ...env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', ...extra };
}

export interface Run {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Child {
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<Run>;
  kill(signal?: NodeJS.Signals): Promise<Run>;
}

const live = new Set<ChildProcess>();

/** Start `node dist/cli/main.js ...args`. */
export function startCli(args: string[], opts: { env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): Child {
  requireBuild();
  const started = performance.now();
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), MAIN, ...args], { cwd: ROOT, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<Run>((resolve) =>
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    }),
  );
  return {
    process: child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Run to completion (bounded: killed after `timeoutMs`). */
export async function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  const child = startCli(args, opts);
  const timer = setTimeout(() => void child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  try {
    return await child.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Kill whatever a failed test left running. */
export async function killAll(): Promise<void> {
  for (const child of [...live]) child.kill('SIGKILL');
  live.clear();
}

/** Poll `probe` every `everyMs` until it returns a truthy value, or fail after `deadlineMs` naming `what`. */
export async function until<T>(probe: () => T | Promise<T>, what: string, deadlineMs = 20_000, everyMs = 20): Promise<NonNullable<T>> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
