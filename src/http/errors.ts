/** One API error type with stable codes, and the one place that turns every other failure into it. */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConflictError, NotAssociatedError, NotFoundError, StoreUnavailableError } from '../store/store.js';

/** Codes clients may rely on; the message is for humans and may change. */
export const ERROR_CODES = [
  'bad_request',
  // brokkr v1's code: a body `agent_id` that names another agent than the path.
  'agent_id_mismatch',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  // A brokkr v1 route that would write stacks or objects by API: here Git is the only writer.
  'git_managed',
  // brokkr v1's code (422): a field brokkr removed from its API (webhooks' filters.labels, validate), named with its replacement.
  'unsupported_field',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'not_ready',
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const STATUS_OF: Record<ErrorCode, number> = {
  bad_request: 400,
  agent_id_mismatch: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  git_managed: 409,
  unsupported_field: 422,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  not_ready: 503,
  unavailable: 503,
  internal: 500,
};

/** An expected failure that becomes `{code, message}` with its status. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers (Retry-After, WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = STATUS_OF[code];
  }
}

export const badRequest = (message: string) => new ApiError('bad_request', message);
export const notFound = (message: string) => new ApiError('not_found', message);
export const forbidden = (message: string) => new ApiError('forbidden', message);
export const conflict = (message: string) => new ApiError('conflict', message);
export const gitManaged = (message: string) => new ApiError('git_managed', message);

/** JSON schema of every error body (used by the route schemas and the OpenAPI document). */
export const errorSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', enum: [...ERROR_CODES] },
    message: { type: 'string' },
  },
} as const;

/** Codes fastify raises before a handler runs, mapped to ours (everything else falls back by status). */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'bad_request',
  FST_ERR_BAD_URL: 'bad_request',
  FST_ERR_ASYNC_CONSTRAINT: 'bad_request',
};

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/**
 * Failures that say "the database cannot be used right now" (PostgreSQL unreachable; for SQLite) rather than "this server has
 * a bug": another process holds the lock longer than the busy timeout, the disk is full, the
 * file became read-only or unreadable. Clients get 503 and may retry; the cause is still logged.
 */
function databaseUnavailable(err: unknown): ApiError | null {
  if (err instanceof StoreUnavailableError) {
    return new ApiError('unavailable', 'the database cannot be reached right now; retry shortly', { 'Retry-After': '2' });
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return null;
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) {
    return new ApiError('unavailable', 'the database is locked by another process; retry shortly', { 'Retry-After': '1' });
  }
  if (/^SQLITE_(FULL|READONLY|IOERR|CANTOPEN)/.test(code)) {
    return new ApiError('unavailable', 'the database cannot be written right now (disk full or read-only); retry later', { 'Retry-After': '5' });
  }
  return null;
}

/** Translate anything thrown into an ApiError; unknown errors become `internal` (and are logged by the caller). */
export function toApiError(err: unknown): { error: ApiError; unexpected: boolean } {
  if (err instanceof ApiError) return { error: err, unexpected: false };
  // Logged like an unexpected error: operators must see a locked or full database.
  const unavailable = databaseUnavailable(err);
  if (unavailable) return { error: unavailable, unexpected: true };
  if (err instanceof ConflictError) return { error: conflict(err.message), unexpected: false };
  if (err instanceof NotFoundError) return { error: notFound(err.message), unexpected: false };
  if (err instanceof NotAssociatedError) return { error: forbidden(err.message), unexpected: false };
  const fe = err as Partial<FastifyError> & { validation?: unknown };
  if (fe && typeof fe === 'object' && fe.validation) {
    return { error: badRequest(fe.message ?? 'invalid request'), unexpected: false };
  }
  if (fe && typeof fe === 'object') {
    const mapped = (fe.code && FASTIFY_CODES[fe.code]) || (fe.statusCode && BY_STATUS[fe.statusCode]);
    if (mapped) return { error: new ApiError(mapped, publicMessage(mapped, fe)), unexpected: false };
  }
  return { error: new ApiError('internal', 'internal server error'), unexpected: true };
}

/** Fastify's own messages are safe to show for client errors; JSON parse errors get a clearer prefix. */
function publicMessage(code: ErrorCode, fe: Partial<FastifyError>): string {
  if (code === 'payload_too_large') return 'request body is larger than the server accepts';
  if (code === 'unsupported_media_type') return 'send request bodies as application/json';
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.name === 'SyntaxError') {
    return `request body is not valid JSON: ${fe.message ?? ''}`.trim();
  }
  return fe.message ?? code;
}

/** Send an ApiError as `{code, message}` with its headers. */
export function sendApiError(reply: FastifyReply, error: ApiError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  return reply.code(error.status).type('application/json; charset=utf-8').send({ code: error.code, message: error.message });
}

/** Install the error and not-found handlers on an instance. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { error, unexpected } = toApiError(err);
    if (unexpected) {
      const e = err as Error;
      request.log.error({ err: { type: e?.name, message: e?.message, stack: e?.stack } }, 'unhandled error');
    }
    return sendApiError(reply, error);
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    sendApiError(reply, notFound(`no route ${request.method} ${safePath(request.url)}`)),
  );
}

/** The path without its query string, shortened: never echo a megabyte URL back. */
function safePath(url: string): string {
  const path = url.split('?')[0] ?? '';
  return path.length > 200 ? `${path.slice(0, 200)}...` : path;
}
