/**
 * What a sync failure means for whoever runs the daemon: STALLED (nothing changes until a person
 * acts — a missing root, rejected credentials, a repository or branch that does not exist) or
 * RETRYING (network, timeouts, a busy database: the syncer backs off and tries again). A failure is
 * recorded as `CODE: message`, and the code alone decides the class, so every replica and every
 * reader of the database shows the same condition and the same advice.
 */
import { GitError } from '../git/git-error.js';
import { SYNC_FAILURE_CODES, SyncFailureError, type SyncFailure, type SyncFailureCode } from './sync-report.js';

/** A repository's state as status shows it: synced, not synced yet, failing and retried, or stalled. */
export const SYNC_CONDITIONS = ['synced', 'pending', 'retrying', 'stalled'] as const;
export type SyncCondition = (typeof SYNC_CONDITIONS)[number];

export interface FailureClass {
  condition: 'stalled' | 'retrying';
  /** What a person should do (stalled), or what the daemon does meanwhile (retrying). */
  action: string;
}

/** Per code: its class and the advice shown with it. One table, read by the syncer, the API, the CLI and the docs. */
const CLASSES: Record<SyncFailureCode, FailureClass> = {
  ROOT_MISSING: { condition: 'stalled', action: "commit the root directory, or correct the repository's root (--root / root:) and restart" },
  BRANCH_MISSING: { condition: 'stalled', action: "push the branch, or correct the repository's branch (--branch / branch:)" },
  REPOSITORY_NOT_FOUND: { condition: 'stalled', action: "correct the repository's path or URL (or give the daemon access to it)" },
  CREDENTIALS_REJECTED: { condition: 'stalled', action: "the remote refused the credentials: renew the token or key the repository's auth names, then restart the daemon" },
  CREDENTIALS_MISSING: { condition: 'stalled', action: "set the environment variables the repository's auth names in the daemon's environment, then restart it" },
  CONFIG_INVALID: { condition: 'stalled', action: "correct the repository's settings (config file or POST /api/v1/generators)" },
  GIT_UNAVAILABLE: { condition: 'retrying', action: 'retried with back-off; the last synced state is served meanwhile' },
  CURSOR_MOVED: { condition: 'retrying', action: 'another writer synced the same database; retried with back-off' },
  LEASE_LOST: { condition: 'retrying', action: 'another replica syncs this repository now; retried with back-off' },
  STORE_FAILED: { condition: 'retrying', action: 'retried with back-off; if it persists, check the database (disk space, connection)' },
  INTERNAL: { condition: 'retrying', action: 'retried with back-off; if it persists, report it with the daemon log' },
};

/** The class of a failure code. */
export function classifyFailure(code: SyncFailureCode): FailureClass {
  return CLASSES[code];
}

/** Git said the remote refused who we are (or could not ask: no credentials to answer with). */
const AUTH_REFUSED = /authentication failed|could not read (?:username|password)|HTTP 40[13]|permission denied \(publickey|invalid username or password/i;
/** Git said there is no repository there. */
const NO_REPOSITORY = /repository '[^']*' not found|repository not found|does not appear to be a git repository/i;

/**
 * The sync failure code of a git error: whether it needs a person (not found, refused) or only
 * time (unreachable, timed out, a read that failed). Git's own words decide for remote errors,
 * since "cannot fetch" covers both a dropped connection and a wrong URL.
 */
export function gitFailureCode(err: unknown): SyncFailureCode {
  if (!(err instanceof GitError)) return 'GIT_UNAVAILABLE';
  switch (err.code) {
    case 'REPO_NOT_FOUND':
    case 'NOT_A_REPOSITORY':
      return 'REPOSITORY_NOT_FOUND';
    case 'BRANCH_NOT_FOUND':
    case 'DETACHED_HEAD':
      return 'BRANCH_MISSING';
    case 'REMOTE_UNREACHABLE':
      if (AUTH_REFUSED.test(err.message)) return 'CREDENTIALS_REJECTED';
      if (NO_REPOSITORY.test(err.message)) return 'REPOSITORY_NOT_FOUND';
      return 'GIT_UNAVAILABLE';
    default:
      return 'GIT_UNAVAILABLE';
  }
}

/** Any error out of a pass as a recorded failure (an unknown one is a bug: INTERNAL). */
export function failureFromError(err: unknown): SyncFailure {
  if (err instanceof SyncFailureError) return { code: err.code, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', message };
}

/** A recorded failure (`CODE: message`) back as code and message; a text without a known code reads as INTERNAL. */
export function parseRecordedFailure(recorded: string): SyncFailure {
  const match = /^([A-Z_]+): ([\s\S]*)$/.exec(recorded);
  const code = match?.[1] as SyncFailureCode | undefined;
  if (match && code && (SYNC_FAILURE_CODES as readonly string[]).includes(code)) return { code, message: match[2]! };
  return { code: 'INTERNAL', message: recorded };
}

/** The condition fields of a repository in GET /status, /sync/status and /generators. */
export interface ConditionFields {
  condition: SyncCondition;
  /** The failure code (null unless retrying or stalled). */
  reason: SyncFailureCode | null;
  action: string | null;
}

/** A repository's condition from its recorded sync state (null: no pass has finished yet). */
export function conditionOf(state: { cursor_commit: string | null; last_error: string | null } | null | undefined): ConditionFields {
  if (state?.last_error) {
    const { code } = parseRecordedFailure(state.last_error);
    const { condition, action } = classifyFailure(code);
    return { condition, reason: code, action };
  }
  return { condition: state?.cursor_commit ? 'synced' : 'pending', reason: null, action: null };
}

/** The condition fields as JSON schema properties (the answers are serialized from a schema). */
export const conditionSchemaProperties = {
  condition: { type: 'string', enum: [...SYNC_CONDITIONS], description: 'synced; pending (no pass finished yet); retrying (a transient failure, retried with back-off); stalled (needs a person: see action)' },
  reason: { type: ['string', 'null'], description: 'The failure code when retrying or stalled' },
  action: { type: ['string', 'null'], description: 'What to do (stalled) or what the daemon does meanwhile (retrying)' },
} as const;
