/** The options of the commands that sync a repository into a database (`serve`, `sync`), declared and checked once. */
import { normalize } from 'node:path';
import type { Options } from 'yargs';
import { isPostgresUrl } from '../store/db-target.js';
import { DEFAULT_MAX_CONTENT_BYTES } from '../manifest/index.js';
import { CliError } from './errors.js';

export interface RepoArgs {
  repo: string;
  branch?: string;
  root?: string;
  db: string;
  'data-dir'?: string;
  'max-bytes': number;
}

/** `--db`: a SQLite file path (normalized) or a postgres:// URL (kept as written). */
export const dbOption = (describe: string) =>
  ({
    type: 'string',
    default: './brokkr.db',
    describe,
    coerce: (value: string) => (isPostgresUrl(String(value)) ? String(value) : normalize(String(value))),
  }) as const satisfies Options;

/** `db` says what lives next to the database file, which differs per command. */
export function repoOptions(dbDescribe: string) {
  return {
    repo: { type: 'string', demandOption: true, describe: 'Repository: a local path or a URL (file://, https://, ssh://, git@host:path)' },
    branch: { type: 'string', describe: "Branch to track (default: the repository's current branch)" },
    root: { type: 'string', describe: 'Directory of the stacks inside the repository (default: its root)' },
    db: dbOption(dbDescribe),
    'data-dir': { type: 'string', describe: 'Where clones of remote repositories live (default: FILE.d beside a SQLite file, ./brokkr-data with PostgreSQL)' },
    'max-bytes': { type: 'number', default: DEFAULT_MAX_CONTENT_BYTES, describe: 'Largest content of one stack, in bytes' },
  } as const satisfies Record<string, Options>;
}

/** Usage error (exit 2) for a blank --repo. */
export function checkRepo(repo: unknown): void {
  if (String(repo).trim() === '') throw new CliError('--repo must name a repository path or URL', 2);
}

/** Usage error (exit 2) unless --max-bytes is a positive whole number. */
export function checkMaxBytes(max: number): void {
  if (!Number.isInteger(max) || max <= 0) throw new CliError(`--max-bytes must be a positive whole number of bytes, not ${String(max)}`, 2);
}
