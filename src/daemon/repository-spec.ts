/**
 * A repository declaration (config file entry, API body, CLI flags) checked once: what, where and
 * why for every problem, and the credentials it names resolved from the environment, never stored.
 */
import { isRemoteUrl, stripCredentials } from '../git/redact-url.js';
import { normalizeRoot } from '../manifest/stack-layout.js';
import type { RepositoryAuth, RepositoryOrigin, RepositorySpec } from '../store/store.js';

/** A declaration that cannot be used; `where` says which entry or field (e.g. `repositories[2].url`). */
export class RepositorySpecError extends Error {
  override name = 'RepositorySpecError';
}

/** Fields of a declaration in the config file's spelling (camelCase) or the API's (snake_case). */
const FIELDS: Record<string, keyof RepositorySpec | 'auth'> = {
  name: 'name',
  url: 'url',
  branch: 'branch',
  root: 'root',
  interval: 'interval_seconds',
  webhookSecret: 'webhook_secret',
  webhook_secret: 'webhook_secret',
  auth: 'auth',
};
const AUTH_FIELDS = ['usernameEnv', 'passwordEnv', 'sshKeyFile', 'username_env', 'password_env', 'ssh_key_file'];

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Check one declaration; `where` prefixes every message (`repositories[0]`, `body`). */
export function parseRepositorySpec(input: unknown, where: string, origin: RepositoryOrigin): RepositorySpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new RepositorySpecError(`${where}: must be a mapping with at least name and url`);
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!(key in FIELDS)) throw new RepositorySpecError(`${where}.${key}: unknown field (known: name, url, branch, root, interval, webhookSecret, auth)`);
  }
  const text = (key: string, value: unknown): string => {
    if (typeof value !== 'string' || value.trim() === '') throw new RepositorySpecError(`${where}.${key}: must be a non-empty string`);
    return value.trim();
  };
  const name = text('name', raw.name);
  if (!NAME.test(name)) {
    throw new RepositorySpecError(`${where}.name: "${name}" must be 1..64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  const url = text('url', raw.url);
  if (isRemoteUrl(url) && stripCredentials(url) !== url) {
    throw new RepositorySpecError(`${where}.url: must not carry credentials; name the environment variables that hold them in auth`);
  }
  const branch = raw.branch === undefined || raw.branch === null ? null : text('branch', raw.branch);
  const root = raw.root === undefined || raw.root === null ? '' : normalizeRoot(text('root', raw.root));
  const intervalRaw = raw.interval ?? null;
  if (intervalRaw !== null && !(typeof intervalRaw === 'number' && intervalRaw > 0 && intervalRaw <= 86_400)) {
    throw new RepositorySpecError(`${where}.interval: must be a number of seconds from 1 to 86400`);
  }
  const secretRaw = raw.webhookSecret ?? raw.webhook_secret ?? null;
  const webhook_secret = secretRaw === null ? null : text('webhookSecret', secretRaw);
  return { name, url, branch, root, interval_seconds: intervalRaw as number | null, webhook_secret, auth: parseAuth(raw.auth, `${where}.auth`), origin };
}

function parseAuth(input: unknown, where: string): RepositoryAuth | null {
  if (input === undefined || input === null) return null;
  if (typeof input !== 'object' || Array.isArray(input)) throw new RepositorySpecError(`${where}: must be { usernameEnv, passwordEnv } or { sshKeyFile }`);
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!AUTH_FIELDS.includes(key)) throw new RepositorySpecError(`${where}.${key}: unknown field (use usernameEnv and passwordEnv, or sshKeyFile)`);
  }
  const pick = (camel: string, snake: string) => raw[camel] ?? raw[snake];
  const sshKeyFile = pick('sshKeyFile', 'ssh_key_file');
  const usernameEnv = pick('usernameEnv', 'username_env');
  const passwordEnv = pick('passwordEnv', 'password_env');
  if (sshKeyFile !== undefined) {
    if (usernameEnv !== undefined || passwordEnv !== undefined) throw new RepositorySpecError(`${where}: either sshKeyFile or usernameEnv/passwordEnv, not both`);
    if (typeof sshKeyFile !== 'string' || sshKeyFile.trim() === '') throw new RepositorySpecError(`${where}.sshKeyFile: must be a file path`);
    return { sshKeyFile: sshKeyFile.trim() };
  }
  for (const [key, value] of [['usernameEnv', usernameEnv], ['passwordEnv', passwordEnv]] as const) {
    if (typeof value !== 'string' || !ENV_NAME.test(value)) {
      throw new RepositorySpecError(`${where}.${key}: must name an environment variable (e.g. GIT_TOKEN), not hold the value`);
    }
  }
  return { usernameEnv: usernameEnv as string, passwordEnv: passwordEnv as string };
}

/**
 * The HTTPS user and token a repository names, read from the environment at this moment (so a
 * rotated token is picked up by a restart or a re-add). They stay in memory and reach git only
 * through its environment (never its command line, which every local user can list).
 */
export function httpCredentials(
  spec: Pick<RepositorySpec, 'name' | 'url' | 'auth'>,
  env: NodeJS.ProcessEnv = process.env,
): { username: string; password: string } | null {
  const auth = spec.auth;
  if (!auth || 'sshKeyFile' in auth) return null;
  if (!/^https?:\/\//i.test(spec.url)) {
    throw new RepositorySpecError(`repository ${spec.name}: usernameEnv/passwordEnv need an http(s) URL; use sshKeyFile for ${spec.url}`);
  }
  const username = env[auth.usernameEnv];
  const password = env[auth.passwordEnv];
  for (const [name, value] of [[auth.usernameEnv, username], [auth.passwordEnv, password]] as const) {
    if (!value) throw new RepositorySpecError(`repository ${spec.name}: the environment variable ${name} is not set in the daemon's environment`);
  }
  return { username: username!, password: password! };
}

/** `${VAR}` in every string of a config value, from the environment; an unset variable is an error naming it. */
export function expandEnv(value: unknown, where: string, env: NodeJS.ProcessEnv = process.env): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined) throw new RepositorySpecError(`${where}: \${${name}} is not set in the environment`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, `${where}[${i}]`, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, `${where}.${k}`, env)]));
  }
  return value;
}

/** Check a config file's `repositories:` list: each entry, and names unique. */
export function parseRepositoryList(input: unknown, env: NodeJS.ProcessEnv = process.env): RepositorySpec[] {
  if (!Array.isArray(input)) throw new RepositorySpecError('repositories: must be a list of repositories (each with name and url)');
  const specs = input.map((entry, i) => parseRepositorySpec(expandEnv(entry, `repositories[${i}]`, env), `repositories[${i}]`, 'config'));
  const seen = new Map<string, number>();
  specs.forEach((spec, i) => {
    const first = seen.get(spec.name);
    if (first !== undefined) throw new RepositorySpecError(`repositories[${i}].name: "${spec.name}" is already used by repositories[${first}]`);
    seen.set(spec.name, i);
  });
  return specs;
}
