/**
 * What a failed attempt means next (the error decides): retry later with exponential back-off and
 * full jitter, or give up (`dead`). Retryable: transport errors, timeouts, redirects, 408, 425,
 * 429 and 5xx; any other 4xx is final at once (the receiver said the request itself is wrong — as
 * brokkr classifies). A retryable failure is retried until `retryForMs` has passed since the event
 * (default one hour), then the delivery is dead with its last error.
 */
export interface RetryOptions {
  /** First back-off (ms, default 2 s); doubles per attempt. */
  baseMs?: number;
  /** Longest back-off (ms, default 10 min). */
  maxMs?: number;
  /** Keep retrying until this long after the event (ms, default 1 h). */
  retryForMs?: number;
}

export const DEFAULT_RETRY = { baseMs: 2_000, maxMs: 600_000, retryForMs: 3_600_000 } as const;

/** Whether an HTTP status is worth retrying. */
export function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 425 || status === 429 || (status >= 300 && status < 400);
}

/** Back-off before attempt `attempts + 1`: base·2^(attempts−1), capped, times a random factor in [0.5, 1). */
export function backoffMs(attempts: number, opts: RetryOptions = {}, random: () => number = Math.random): number {
  const base = opts.baseMs ?? DEFAULT_RETRY.baseMs;
  const max = opts.maxMs ?? DEFAULT_RETRY.maxMs;
  const exp = Math.min(max, base * 2 ** Math.max(0, Math.min(30, attempts - 1)));
  return Math.round(exp * (0.5 + random() / 2));
}

/** When to try again, or null: the retry window since `createdAt` is over. */
export function nextRetryAt(attempts: number, createdAt: string, now: number, opts: RetryOptions = {}): string | null {
  const window = opts.retryForMs ?? DEFAULT_RETRY.retryForMs;
  if (now - Date.parse(createdAt) >= window) return null;
  return new Date(now + backoffMs(attempts, opts)).toISOString();
}
