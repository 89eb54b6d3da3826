/** Throwaway git repositories for tests: write files, commit, rename, push to a bare remote — all synchronous. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Environment that keeps tests independent of the user's git config and never prompts. */
const GIT_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_COMMITTER_NAME: 'Test Committer',
  GIT_COMMITTER_EMAIL: 'committer@example.com',
};

/** Run git in `cwd` and return trimmed stdout. */
export function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync('git', args, {
    cwd,
    env: { ...GIT_ENV, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
  }).trim();
}

export interface CommitOptions {
  author?: { name: string; email: string };
  /** Committer/author date (any format git accepts, e.g. '2024-01-02T03:04:05Z'). */
  date?: string;
  /** Allow a commit without changes (default true). */
  allowEmpty?: boolean;
}

export interface TestRepo {
  /** Absolute path of the working tree. */
  readonly path: string;
  /** `file://` URL of the repository (for remote-style tests). */
  readonly url: string;
  /** Write a file (parent directories created); strings are written as UTF-8. */
  write(path: string, data: string | Buffer): TestRepo;
  /** Write many files at once. */
  writeAll(files: Record<string, string | Buffer>): TestRepo;
  /** Create a symbolic link at `path` pointing at `target` (verbatim). */
  symlink(path: string, target: string): TestRepo;
  /** Remove a file or directory from the working tree (recursive). */
  remove(path: string): TestRepo;
  /** Rename a file or directory in the working tree. */
  rename(from: string, to: string): TestRepo;
  /** Stage everything and commit; returns the new commit sha. */
  commit(message: string, options?: CommitOptions): string;
  /** Current HEAD sha. */
  head(): string;
  /** Run any git command in the repository. */
  git(...args: string[]): string;
  /** Create a branch at HEAD (or at `at`) without switching to it. */
  branch(name: string, at?: string): void;
  /** Switch branches (creating it with create=true). */
  checkout(name: string, create?: boolean): void;
  /** Hard-reset the current branch (history rewrite). */
  resetHard(ref: string): void;
  /** Push the current branch to `remote` (a path or URL), force by default. */
  push(remote: string, branch?: string, force?: boolean): void;
  /** Delete the repository directory. */
  cleanup(): void;
}

function makeHandle(path: string, owned: string[]): TestRepo {
  const repo: TestRepo = {
    path,
    url: `file://${path}`,
    write(rel, data) {
      const abs = join(path, rel);
      mkdirSync(dirname(abs), { recursive: true });
      writeFileSync(abs, data);
      return repo;
    },
    writeAll(files) {
      for (const [rel, data] of Object.entries(files)) repo.write(rel, data);
      return repo;
    },
    symlink(rel, target) {
      const abs = join(path, rel);
      mkdirSync(dirname(abs), { recursive: true });
      symlinkSync(target, abs);
      return repo;
    },
    remove(rel) {
      rmSync(join(path, rel), { recursive: true, force: true });
      return repo;
    },
    rename(from, to) {
      const dest = join(path, to);
      mkdirSync(dirname(dest), { recursive: true });
      renameSync(join(path, from), dest);
      return repo;
    },
    commit(message, options = {}) {
      git(path, ['add', '-A']);
      const env: NodeJS.ProcessEnv = {};
      if (options.author) {
        env.GIT_AUTHOR_NAME = options.author.name;
        env.GIT_AUTHOR_EMAIL = options.author.email;
      }
      if (options.date) {
        env.GIT_AUTHOR_DATE = options.date;
        env.GIT_COMMITTER_DATE = options.date;
      }
      const args = ['commit', '-q', '--no-verify', '-m', message];
      if (options.allowEmpty !== false) args.push('--allow-empty');
      git(path, args, env);
      return repo.head();
    },
    head() {
      return git(path, ['rev-parse', 'HEAD']);
    },
    git(...args) {
      return git(path, args);
    },
    branch(name, at) {
      git(path, at ? ['branch', name, at] : ['branch', name]);
    },
    checkout(name, create = false) {
      git(path, create ? ['checkout', '-q', '-b', name] : ['checkout', '-q', name]);
    },
    resetHard(ref) {
      git(path, ['reset', '-q', '--hard', ref]);
    },
    push(remote, branch, force = true) {
      const b = branch ?? git(path, ['symbolic-ref', '--short', 'HEAD']);
      git(path, ['push', '-q', ...(force ? ['--force'] : []), remote, `${b}:refs/heads/${b}`]);
    },
    cleanup() {
      for (const dir of owned) if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
  return repo;
}

/** A fresh repository on branch `main` with local identity config (no commits yet). */
export async function makeRepo(prefix = 'brokkr-repo-'): Promise<TestRepo> {
  return makeRepoSync(prefix);
}

/** Synchronous variant of makeRepo for use outside async contexts. */
export function makeRepoSync(prefix = 'brokkr-repo-'): TestRepo {
  const path = mkdtempSync(join(tmpdir(), prefix));
  git(path, ['init', '-q', '-b', 'main']);
  git(path, ['config', 'user.name', 'Test Committer']);
  git(path, ['config', 'user.email', 'committer@example.com']);
  git(path, ['config', 'commit.gpgsign', 'false']);
  git(path, ['config', 'core.autocrlf', 'false']);
  return makeHandle(path, [path]);
}

export interface BareRemote {
  /** Absolute path of the bare repository. */
  readonly path: string;
  /** `file://` URL of the bare repository. */
  readonly url: string;
  cleanup(): void;
}

/** An empty bare repository to push to and clone from (`file://` remote tests). */
export function makeBareRemote(prefix = 'brokkr-remote-'): BareRemote {
  const path = mkdtempSync(join(tmpdir(), prefix));
  git(path, ['init', '-q', '--bare', '-b', 'main']);
  return {
    path,
    url: `file://${path}`,
    cleanup() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** A temporary directory (e.g. a data dir) with its cleanup. */
export function makeTempDir(prefix = 'brokkr-tmp-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
