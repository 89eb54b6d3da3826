/** Git failures as values with stable codes and messages that say what to do (credentials redacted). */
import { redactUrl } from './redact-url.js';

export const GIT_ERROR_CODES = [
  'GIT_NOT_INSTALLED',
  'REPO_NOT_FOUND',
  'NOT_A_REPOSITORY',
  'BRANCH_NOT_FOUND',
  'DETACHED_HEAD',
  'REMOTE_UNREACHABLE',
  'OBJECT_NOT_FOUND',
  'GIT_FAILED',
] as const;
export type GitErrorCode = (typeof GIT_ERROR_CODES)[number];

export class GitError extends Error {
  constructor(
    readonly code: GitErrorCode,
    message: string,
  ) {
    super(redactUrl(message));
    this.name = 'GitError';
  }
}

/** The first meaningful lines of git's stderr (hints and blank lines dropped), redacted, for a message. */
export function summarizeStderr(stderr: string, maxLines = 3): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('hint:'));
  return redactUrl(lines.slice(0, maxLines).join('; ')).slice(0, 500);
}
