/** Maps PostgreSQL failures to the store's error types: constraints to 409/404, a lost or refused connection to 503. */
import { ConflictError, NotFoundError, StoreUnavailableError } from '../store.js';
import { redactDbTarget } from '../db-target.js';

interface PgLikeError {
  code?: string;
  message?: string;
  detail?: string;
}

// Node socket errors and PostgreSQL's own: admin shutdown, crash shutdown, cannot connect now.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P01', '57P02', '57P03']);
const UNAVAILABLE_MESSAGES = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection terminated unexpectedly/i;

/** True when the failure says the server cannot be reached right now, not that the query was wrong. */
export function isUnavailable(err: unknown): boolean {
  const e = err as PgLikeError;
  if (typeof e?.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  return typeof e?.message === 'string' && UNAVAILABLE_MESSAGES.test(e.message);
}

/** A connection failure as the store reports it; the message never carries the URL's password. */
export function unavailable(err: unknown, target: string): StoreUnavailableError {
  const e = err as PgLikeError;
  const failure = new StoreUnavailableError(`database ${redactDbTarget(target)} is unavailable: ${e?.code ?? ''} ${e?.message ?? String(err)}`.replace(/\s+/g, ' '));
  (failure as Error & { cause?: unknown }).cause = err;
  return failure;
}

/** Translate a constraint failure; `what` names the thing being written, for the message. */
export function mapPgError(err: unknown, what: string): unknown {
  const e = err as PgLikeError;
  if (e?.code === '23505') return new ConflictError(`${what} already exists (${e.detail ?? e.message ?? 'unique'})`);
  if (e?.code === '23503') return new NotFoundError(`${what}: a referenced record does not exist`);
  return err;
}

/** Run fn, rethrowing PostgreSQL constraint errors as ConflictError / NotFoundError. */
export async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapPgError(err, what);
  }
}
