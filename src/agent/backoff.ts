/** Exponential backoff with jitter, used for reconnecting to the daemon and for retrying failed applies. */

export interface BackoffOptions {
  /** Delay of the first retry, in ms. */
  baseMs?: number;
  /** Upper bound of any delay, in ms. */
  capMs?: number;
  /** Source of randomness in [0, 1) (tests pass a fixed one). */
  random?: () => number;
}

/**
 * Delay before retry number `attempt` (1 = first retry): base·2^(attempt-1), capped, with "equal
 * jitter" — half fixed, half random — so a fleet of agents that lost the daemon at the same moment
 * does not reconnect in lockstep, yet no agent ever retries in a tight loop.
 */
export function backoffDelay(attempt: number, { baseMs = 500, capMs = 30_000, random = Math.random }: BackoffOptions = {}): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  const half = exp / 2;
  return Math.round(half + random() * half);
}

/** A counter of consecutive failures that hands out the next delay and resets on success. */
export class Backoff {
  #attempt = 0;
  constructor(private readonly options: BackoffOptions = {}) {}

  /** Consecutive failures so far. */
  get attempts(): number {
    return this.#attempt;
  }

  /** Record a failure and return how long to wait before trying again. */
  next(): number {
    this.#attempt += 1;
    return backoffDelay(this.#attempt, this.options);
  }

  reset(): void {
    this.#attempt = 0;
  }
}

/** Sleep for ms, waking early (without error) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
