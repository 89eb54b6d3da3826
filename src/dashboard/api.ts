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

/** `GET /api/v1{path}` (or POST without a body) → parsed JSON; failures throw ApiFailure. */
export async function api<T>(path: string, options: CallOptions = {}): Promise<T> {
  const { method = 'GET', signal, pak = session.pak() ?? '' } = options;
  let res: Response;
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
  if (res.ok) return (res.status === 204 ? undefined : await res.json()) as T;
  const body = (await res.json().catch(() => null)) as { code?: string; message?: string } | null;
  const failure = new ApiFailure(res.status, body?.code ?? 'http_' + res.status, body?.message ?? `${res.status} ${res.statusText}`);
  if (res.status === 401 && options.pak === undefined) for (const l of unauthorizedListeners) l(failure.message);
  throw failure;
}

/** A readable one-liner for any error a view catches. */
export function describe(err: unknown): string {
  if (err instanceof ApiFailure) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}
