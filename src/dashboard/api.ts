/** Calls to the daemon's JSON API with the admin PAK from session storage (header only, never the URL). */

const PAK_KEY = 'brokkr-sync.admin-pak';

/** A non-2xx answer, carrying the API's `{code, message}`. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const session = {
  pak: (): string | null => sessionStorage.getItem(PAK_KEY),
  save: (pak: string): void => sessionStorage.setItem(PAK_KEY, pak),
  clear: (): void => sessionStorage.removeItem(PAK_KEY),
};

const unauthorizedListeners = new Set<(message: string) => void>();

/** Called when the stored PAK stops working (rotated, wrong): the app returns to the login form. */
export function onUnauthorized(listener: (message: string) => void): void {
  unauthorizedListeners.add(listener);
}

export interface CallOptions {
  method?: 'GET' | 'POST';
  signal?: AbortSignal;
  /** Use this PAK instead of the stored one (the login check). */
  pak?: string;
}

/** How often, and how long at most each time, a 429 is waited out before the view shows the error. */
export const RATE_LIMIT_RETRY = { attempts: 4, maxWaitMs: 30_000 };

/**
 * `GET /api/v1{path}` (or POST without a body) → parsed JSON; failures throw ApiFailure. A 429 is
 * waited out as its Retry-After asks (bounded), then sent again: the daemon refused it before
 * reading anything. (The Node clients share src/agent/retry-after.ts; this bundle is built apart.)
 */
export async function api<T>(path: string, options: CallOptions = {}): Promise<T> {
  const { method = 'GET', signal, pak = session.pak() ?? '' } = options;
  let res: Response;
  let waited = 0;
  let tooLong = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      res = await fetch(`/api/v1${path}`, {
        method,
        signal,
        cache: 'no-store',
        headers: { authorization: `Bearer ${pak}`, accept: 'application/json' },
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ApiFailure(0, 'network', 'the daemon is not reachable');
    }
    if (res.status !== 429 || attempt >= RATE_LIMIT_RETRY.attempts) break;
    const seconds = Number(res.headers.get('retry-after') ?? '1');
    const wait = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 1000;
    if (wait > RATE_LIMIT_RETRY.maxWaitMs) {
      tooLong = wait;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
    if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
    waited += wait;
  }
  if (res.ok) return (res.status === 204 ? undefined : await res.json()) as T;
  const body = (await res.json().catch(() => null)) as { code?: string; message?: string } | null;
  const gaveUp =
    res.status !== 429
      ? ''
      : tooLong > 0
        ? ` — the daemon asks to wait ${Math.round(tooLong / 1000)} s; try again then`
        : ` — still rate limited after waiting ${Math.round(waited / 1000)} s; try again shortly`;
  const failure = new ApiFailure(res.status, body?.code ?? 'http_' + res.status, (body?.message ?? `${res.status} ${res.statusText}`) + gaveUp);
  if (res.status === 401 && options.pak === undefined) for (const l of unauthorizedListeners) l(failure.message);
  throw failure;
}

/** A readable one-liner for any error a view catches. */
export function describe(err: unknown): string {
  if (err instanceof ApiFailure) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}
