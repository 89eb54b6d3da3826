/** The agent's view of the daemon's HTTP API (SPEC §5, agent-facing routes only). */
import type { DeploymentObject, Stack } from '../store/records.js';
import { gaveUpNote, retryOn429, type RetryOutcome } from './retry-after.js';
import { normalizeApiBaseUrl } from '../api-base-url.js';

/** How a request failed, which decides what the agent does next. */
export type ApiFailureKind =
  /** Network error, timeout, or a 5xx/502/503: retry with backoff. */
  | 'unreachable'
  /** 401/403: the PAK is wrong, revoked, or not this agent's; retrying will not help. */
  | 'rejected'
  /** Any other 4xx: a bug or a resource that is gone. */
  | 'client';

export class AgentApiError extends Error {
  override name = 'AgentApiError';
  constructor(
    readonly kind: ApiFailureKind,
    readonly status: number | null,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface PakIdentity {
  admin: boolean;
  agent: string | null;
  generator: string | null;
  readonly: boolean;
}

export type TargetStateResult =
  | { changed: false }
  | { changed: true; objects: DeploymentObject[]; etag: string | null };

export type EventReport = {
  deployment_object_id: string;
  event_type: 'DEPLOY' | 'DELETE';
  status: 'SUCCESS' | 'FAILURE';
  message: string;
};

/** One object's health in a report (brokkr's DeploymentObjectHealthUpdate). */
export interface HealthUpdate {
  id: string;
  status: 'healthy' | 'degraded' | 'failing' | 'unknown';
  summary: string | null;
  checked_at: string;
}

export interface ApiClientOptions {
  /** Base URL of the daemon, e.g. http://127.0.0.1:3000 (a trailing /api/v1 is accepted). */
  url: string;
  pak: string;
  /** Timeout of ordinary requests, in ms (long polls add their wait to it). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Most requests per call while the daemon answers 429 (default 4; each waits its Retry-After, at most 60 s). */
  rateLimitAttempts?: number;
  /** Told before each wait on a 429 (the agent logs it: a budget too small for the fleet shows). */
  onRateLimited?: (waitMs: number, request: string) => void;
}

/** Normalize a base URL: no trailing slash, no /api/v1 suffix; refuse anything but http(s). */
export function normalizeBaseUrl(input: string): string {
  const parsed = normalizeApiBaseUrl(input);
  if (parsed.ok) return parsed.url;
  throw new AgentApiError(
    'client',
    null,
    'BAD_URL',
    parsed.problem === 'not-a-url' ? `--url ${JSON.stringify(input)} is not a URL (expected e.g. http://127.0.0.1:3000)` : `--url must be http:// or https://, got ${parsed.protocol}`,
  );
}

export class ApiClient {
  readonly baseUrl: string;
  readonly #pak: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #rateLimitAttempts: number;
  readonly #onRateLimited: ApiClientOptions['onRateLimited'];

  constructor({ url, pak, timeoutMs = 15_000, fetch: fetchImpl = fetch, rateLimitAttempts = 4, onRateLimited }: ApiClientOptions) {
    this.baseUrl = normalizeBaseUrl(url);
    this.#pak = pak;
    this.#timeoutMs = timeoutMs;
    this.#fetch = fetchImpl;
    this.#rateLimitAttempts = rateLimitAttempts;
    this.#onRateLimited = onRateLimited;
  }

  /** Who the PAK belongs to. */
  async whoami(signal?: AbortSignal): Promise<PakIdentity> {
    const res = await this.#request('POST', '/auth/pak', { signal });
    return (await readJson(res)) as PakIdentity;
  }

  /** Long-poll the target state; `etag` makes an unchanged state answer 304 → `{changed: false}`. */
  async targetState(
    agentId: string,
    opts: { mode: 'incremental' | 'full'; waitSeconds: number; etag: string | null; signal?: AbortSignal },
  ): Promise<TargetStateResult> {
    const query = `mode=${opts.mode}${opts.waitSeconds > 0 ? `&wait=${opts.waitSeconds}` : ''}`;
    const headers: Record<string, string> = opts.etag ? { 'If-None-Match': opts.etag } : {};
    const res = await this.#request('GET', `/agents/${agentId}/target-state?${query}`, {
      headers,
      signal: opts.signal,
      extraTimeoutMs: opts.waitSeconds * 1000,
      allow304: true,
    });
    if (res.status === 304) return { changed: false };
    const body = await readJson(res);
    if (!Array.isArray(body)) throw new AgentApiError('client', res.status, 'BAD_RESPONSE', 'target-state did not answer with an array');
    return { changed: true, objects: body as DeploymentObject[], etag: res.headers.get('etag') };
  }

  /** The agent record (for its name in logs). */
  async agent(agentId: string, signal?: AbortSignal): Promise<{ id: string; name: string; cluster_name: string }> {
    const res = await this.#request('GET', `/agents/${agentId}`, { signal });
    return (await readJson(res)) as { id: string; name: string; cluster_name: string };
  }

  /** Stacks associated with the agent (used to turn stack ids into names). */
  async stacks(agentId: string, signal?: AbortSignal): Promise<(Stack & { depends_on?: string[] })[]> {
    const res = await this.#request('GET', `/agents/${agentId}/stacks`, { signal });
    const body = await readJson(res);
    return Array.isArray(body) ? (body as Stack[]) : [];
  }

  async reportEvent(agentId: string, event: EventReport, signal?: AbortSignal): Promise<void> {
    const res = await this.#request('POST', `/agents/${agentId}/events`, { body: { ...event, agent_id: agentId }, signal });
    await res.arrayBuffer();
  }

  /** One health round: brokkr's `PATCH /agents/{id}/health-status` with every object checked. */
  async reportHealth(agentId: string, objects: HealthUpdate[], signal?: AbortSignal): Promise<void> {
    const res = await this.#request('PATCH', `/agents/${agentId}/health-status`, { body: { deployment_objects: objects }, signal });
    await res.arrayBuffer();
  }

  async heartbeat(agentId: string, signal?: AbortSignal): Promise<void> {
    const res = await this.#request('POST', `/agents/${agentId}/heartbeat`, { signal });
    await res.arrayBuffer();
  }

  async #request(
    method: string,
    path: string,
    opts: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal; extraTimeoutMs?: number; allow304?: boolean },
  ): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#pak}`, accept: 'application/json', ...opts.headers };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let timeout = AbortSignal.timeout(0);
    let outcome: RetryOutcome;
    try {
      // A 429 is waited out here, as the daemon's Retry-After asks, rather than retried by the
      // run loop's network backoff, which knows nothing of when the budget refills.
      outcome = await retryOn429(
        () => {
          timeout = AbortSignal.timeout(this.#timeoutMs + (opts.extraTimeoutMs ?? 0));
          return this.#fetch(`${this.baseUrl}/api/v1${path}`, {
            method,
            headers,
            body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
            signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout,
          });
        },
        { attempts: this.#rateLimitAttempts, signal: opts.signal, onWait: (waitMs) => this.#onRateLimited?.(waitMs, `${method} /api/v1${path.split('?')[0]}`) },
      );
    } catch (err) {
      if (opts.signal?.aborted) throw new AgentApiError('unreachable', null, 'ABORTED', 'request aborted (shutting down)');
      throw new AgentApiError('unreachable', null, 'UNREACHABLE', describeNetworkError(err, timeout.aborted));
    }
    const res = outcome.response;
    if (res.ok || (opts.allow304 && res.status === 304)) return res;
    const { code, message } = await readError(res);
    const gaveUp = res.status === 429 ? `; gave up for now: ${gaveUpNote(outcome)}` : '';
    const text = `${method} /api/v1${path} → ${res.status} ${code}: ${message}${gaveUp}`;
    if (res.status === 401 || res.status === 403) throw new AgentApiError('rejected', res.status, code, text);
    if (res.status >= 500 || res.status === 429 || res.status === 408) throw new AgentApiError('unreachable', res.status, code, text);
    throw new AgentApiError('client', res.status, code, text);
  }
}

async function readJson(res: Response): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    throw new AgentApiError('unreachable', res.status, 'BAD_RESPONSE', `the daemon answered ${res.status} with a body that is not JSON`);
  }
}

async function readError(res: Response): Promise<{ code: string; message: string }> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    return { code: String(body.code ?? `HTTP_${res.status}`), message: String(body.message ?? res.statusText) };
  } catch {
    return { code: `HTTP_${res.status}`, message: text.slice(0, 200) || res.statusText };
  }
}

/** undici hides the useful part ("ECONNREFUSED 127.0.0.1:3000") in err.cause. */
function describeNetworkError(err: unknown, timedOut: boolean): string {
  if (timedOut) return 'request timed out';
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.message) return cause.code && !cause.message.includes(cause.code) ? `${cause.code}: ${cause.message}` : cause.message;
  if (cause?.code) return cause.code;
  return err instanceof Error ? err.message : String(err);
}
