/**
 * The 304 fast path: the request a fleet sends most — an agent's `GET /api/v1/agents/{id}/target-state`
 * with its current ETag in If-None-Match and no long-poll wait — answered before fastify's routing,
 * request and reply objects and hook passes (together more than a third of the daemon's CPU per
 * 304: bench F13), through the SAME pieces the routed answer uses: the authenticator's PAK cache,
 * the per-role rate limiter, the target-state cache and its ETag check, the HTTP duration metric,
 * the request log's level rule and the security headers.
 *
 * It answers only when every check passes without waiting: the PAK is cached for this very agent,
 * its state is cached and current, the tag matches, the rate limiter grants a token (taken last,
 * so a request handed on was never counted), and the log would not write the line. Everything else
 * — a miss, another agent's id, an admin PAK, a stale tag, a wait, an upper-case id, a query other
 * than `mode`, a body, a refusal, shutdown, a debug log level — goes to fastify unchanged, which
 * then answers exactly as it always did (test/http/fast-poll.test.ts compares the two paths'
 * status, headers and body request by request).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authenticator } from './auth.js';
import { extractPak } from './auth.js';
import type { Metrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import { callerOf } from './rate-limit.js';
import { requestLogLevel } from './request-log.js';
import { SECURITY_HEADERS } from './security-headers.js';
import { ifNoneMatchHit, parseIfNoneMatch, type TargetMode, type TargetStates } from './target-states.js';

/** The route pattern, as fastify names it in the metric and the log. */
const ROUTE = '/api/v1/agents/:id/target-state';
const PREFIX = '/api/v1/agents/';
const SUFFIX = '/target-state';
/** prefix + a 36-character UUID + suffix */
const PATH_LENGTH = PREFIX.length + 36 + SUFFIX.length;

/** The only query strings taken here (no wait): anything else is fastify's to validate. */
const MODES: ReadonlyMap<string, TargetMode> = new Map([
  ['', 'incremental'],
  ['?mode=incremental', 'incremental'],
  ['?mode=full', 'full'],
]);

/** The security headers as [name, value, …], the ETag appended per answer. */
const HEADERS: readonly string[] = Object.entries(SECURITY_HEADERS).flat();

export interface FastPollOptions {
  auth: Authenticator;
  limiter: RateLimiter | null;
  targets: TargetStates;
  metrics: Metrics;
  /** The server's logger (pino): whether the request log would write this answer's line. */
  logger: { isLevelEnabled(level: string): boolean };
  /** True once the server is shutting down: then fastify answers (503). */
  closing: () => boolean;
}

/** A lower-case UUID at `from` (what the store holds; fastify's auth hook lower-cases others, so they are left to it). */
function isLowerUuid(s: string, from: number): boolean {
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(from + i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false; // '-'
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false; // 0-9 a-f
  }
  return true;
}

export class FastPoll {
  readonly #o: FastPollOptions;
  /** 304s answered here (tests check the fast path really ran). */
  answered = 0;

  constructor(options: FastPollOptions) {
    this.#o = options;
  }

  /** Answer the request if it is a fast-path 304; false: not answered, hand it to fastify. */
  answer(req: IncomingMessage, res: ServerResponse): boolean {
    const start = performance.now();
    const url = req.url;
    if (req.method !== 'GET' || url === undefined || url.length < PATH_LENGTH || !url.startsWith(PREFIX)) return false;
    if (url.charCodeAt(PATH_LENGTH - SUFFIX.length) !== 47 || !url.startsWith(SUFFIX, PATH_LENGTH - SUFFIX.length)) return false;
    const mode = MODES.get(url.slice(PATH_LENGTH));
    if (mode === undefined || !isLowerUuid(url, PREFIX.length)) return false;
    const headers = req.headers;
    const ifNoneMatch = headers['if-none-match'];
    if (ifNoneMatch === undefined || headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) return false;
    const o = this.#o;
    if (o.closing() || o.logger.isLevelEnabled(requestLogLevel(ROUTE, 304))) return false;

    const pak = extractPak(headers.authorization);
    if (pak === null) return false;
    const principal = o.auth.peek(pak);
    if (principal === undefined || principal.role !== 'agent') return false;
    const id = url.slice(PREFIX.length, PREFIX.length + 36);
    if (principal.agent.id !== id) return false;
    const state = o.targets.peek(id, mode);
    if (state === undefined || !ifNoneMatchHit(parseIfNoneMatch(ifNoneMatch), state.etag)) return false;
    // Last: a request handed on from here was not counted (fastify's auth hook counts it once).
    if (o.limiter !== null && !o.limiter.take(callerOf(principal)).ok) return false;
    o.auth.noteUse(principal);

    res.writeHead(304, [...HEADERS, 'etag', state.etag]);
    res.end();
    o.metrics.observeRequest('GET', ROUTE, 304, (performance.now() - start) / 1000);
    this.answered += 1;
    return true;
  }
}
