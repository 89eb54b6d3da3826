/** `--repo` to GitSource: a local repository is read in place; a URL is cloned into the data dir and fetched. */
import { sha256Hex } from '../sha256-hex.js';
import { existsSync, mkdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { Logger } from 'pino';
import { CliGitSource } from './cli-git-source.js';
import { GitError, summarizeStderr } from './git-error.js';
import type { GitSource } from './git-source.js';
import { isRemoteUrl, redactUrl, stripCredentials } from './redact-url.js';
import { gitEnv, runGitRaw } from './run-git.js';

export interface OpenGitSourceOptions {
  /** A local path (a work tree's top level or a bare repository) or a URL (file://, https://, ssh://, git@host:path). */
  repo: string;
  /** Where remote clones live (`<dataDir>/repos/<hash of url>`); unused for local repositories. */
  dataDir: string;
  logger?: Logger;
  /** Abort a clone or fetch when git has been silent this long (ms). */
  networkTimeoutMs?: number;
  /** Clone and fetch over SSH with this private key (only this one: IdentitiesOnly). */
  sshKeyFile?: string;
  /**
   * Clone and fetch over HTTPS with this user and token: sent as an Authorization header that git
   * reads from its environment (GIT_CONFIG_* variables), so it is never on git's command line
   * (visible to every local user in the process list), in the clone's config or in a URL we log.
   */
  httpAuth?: { username: string; password: string };
}

/** Branch heads of the remote become this clone's branch heads; `+` accepts force-pushes. */
const REFSPEC = '+refs/heads/*:refs/heads/*';

/** Open the repository named by `repo`; throws a GitError with a clear, redacted message. */
export async function openGitSource(options: OpenGitSourceOptions): Promise<GitSource> {
  return isRemoteUrl(options.repo) ? openRemote(options) : openLocal(options.repo);
}

/** Directory of the clone for a URL: credentials are not part of the identity (a rotated token keeps the clone). */
export function cloneDirFor(dataDir: string, url: string): string {
  const hash = sha256Hex(stripCredentials(url)).slice(0, 24);
  return join(dataDir, 'repos', hash);
}

async function openLocal(repo: string): Promise<GitSource> {
  const path = resolve(repo);
  if (!existsSync(path)) throw new GitError('REPO_NOT_FOUND', `repository not found: ${path} does not exist`);
  if (!statSync(path).isDirectory()) throw new GitError('NOT_A_REPOSITORY', `${path} is not a directory, so not a git repository`);
  const bare = await runGitRaw(path, ['rev-parse', '--is-bare-repository']);
  if (bare.code !== 0) {
    const detail = summarizeStderr(bare.stderr);
    const hint = /dubious ownership/.test(detail) ? ' (owned by another user: add it to git config --global safe.directory)' : '';
    throw new GitError('NOT_A_REPOSITORY', `${path} is not a git repository${hint}: ${detail}`);
  }
  if (bare.stdout.toString().trim() !== 'true') {
    const top = await runGitRaw(path, ['rev-parse', '--show-toplevel']);
    const topLevel = top.stdout.toString('utf8').trim();
    if (top.code === 0 && realpathSync(topLevel) !== realpathSync(path)) {
      throw new GitError(
        'NOT_A_REPOSITORY',
        `${path} is inside the git repository ${topLevel}; pass the repository's top-level directory (and --root for a subdirectory)`,
      );
    }
  }
  return new CliGitSource({ cwd: path, displayName: path });
}

async function openRemote(options: OpenGitSourceOptions): Promise<GitSource> {
  const { repo: url, dataDir, logger } = options;
  const displayName = redactUrl(url);
  const dir = cloneDirFor(dataDir, url);
  const git = (cwd?: string): SimpleGit =>
    simpleGit({
      baseDir: cwd ?? dataDir,
      timeout: { block: options.networkTimeoutMs ?? 120_000 },
      // simple-git 3.36 refuses to run when the environment holds EDITOR, PAGER, GIT_SSH_COMMAND,
      // GIT_CONFIG_GLOBAL, PREFIX, GIT_PROXY_COMMAND... gitEnv() sets GIT_SSH_COMMAND itself, and the
      // rest is the operator's own environment (containers and CI set GIT_CONFIG_GLOBAL or PREFIX):
      // allow every environment category; the arguments we pass are fixed.
      unsafe: {
        allowUnsafeEditor: true,
        allowUnsafePager: true,
        allowUnsafeSshCommand: true,
        allowUnsafeAskPass: true,
        allowUnsafeConfigPaths: true,
        allowUnsafeConfigEnvCount: true,
        allowUnsafeGitProxy: true,
        allowUnsafeTemplateDir: true,
        allowUnsafeDiffExternal: true,
      } as never,
    }).env(gitEnv({ ...(options.sshKeyFile ? { GIT_SSH_COMMAND: sshCommandWithKey(options.sshKeyFile) } : {}), ...authHeaderEnv(options.httpAuth) }));

  mkdirSync(join(dataDir, 'repos'), { recursive: true });
  if (existsSync(dir) && !(await isBareRepository(dir))) {
    logger?.warn({ repo: displayName, dir }, 'clone is damaged; cloning again');
    rmSync(dir, { recursive: true, force: true });
  }
  if (!existsSync(dir)) {
    // Clone beside the final place and rename: a crash mid-clone never leaves a half clone in use.
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    logger?.info({ repo: displayName, dir }, 'cloning repository');
    try {
      await git().clone(url, tmp, ['--bare', '--no-tags', '--quiet']);
      // Keep the token out of the clone's config: fetch() passes the URL each time.
      await git(tmp).raw(['config', 'remote.origin.url', stripCredentials(url)]);
      await git(tmp).raw(['config', 'remote.origin.fetch', REFSPEC]);
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw remoteError('clone', displayName, err);
    }
  }

  let queue: Promise<void> = Promise.resolve();
  const fetchOnce = async (): Promise<void> => {
    try {
      await git(dir).raw(['fetch', '--quiet', '--prune', '--no-tags', url, REFSPEC]);
      logger?.debug({ repo: displayName }, 'fetched');
    } catch (err) {
      throw remoteError('fetch', displayName, err);
    }
  };
  // One fetch at a time (webhook and interval may race); each caller waits for a fetch started after its call.
  const fetch = (): Promise<void> => {
    const run = queue.then(fetchOnce, fetchOnce);
    queue = run.catch(() => undefined);
    return run;
  };
  return new CliGitSource({ cwd: dir, displayName, fetch });
}

async function isBareRepository(dir: string): Promise<boolean> {
  const result = await runGitRaw(dir, ['rev-parse', '--is-bare-repository']);
  return result.code === 0 && result.stdout.toString().trim() === 'true';
}

function remoteError(action: 'clone' | 'fetch', displayName: string, err: unknown): GitError {
  if (err instanceof GitError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  const detail = summarizeStderr(raw.replace(/^Cloning into.*$/gm, '')) || 'git gave no reason';
  const timedOut = /block timeout reached/.test(raw) ? ' (timed out waiting for the remote)' : '';
  // With credentials in a header, a refused token ends in git wanting to prompt for a user.
  const refused = /could not read Username|Authentication failed|HTTP 401|HTTP 403|Permission denied \(publickey/.test(raw)
    ? ' (authentication failed: the remote refused the credentials; check the repository\'s auth)'
    : '';
  return new GitError('REMOTE_UNREACHABLE', `cannot ${action} ${displayName}${timedOut}${refused}: ${detail}`);
}

/** ssh with one key and no prompts; the path is quoted for the shell git runs GIT_SSH_COMMAND through. */
function sshCommandWithKey(keyFile: string): string {
  const quoted = `'${resolve(keyFile).replace(/'/g, `'\\''`)}'`;
  return `ssh -i ${quoted} -o IdentitiesOnly=yes -o BatchMode=yes`;
}

/** git's configuration through its environment: `http.extraHeader = Authorization: Basic …` for this process only. */
function authHeaderEnv(auth: OpenGitSourceOptions['httpAuth']): NodeJS.ProcessEnv {
  if (!auth) return {};
  const basic = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
  return { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}` };
}
