/**
 * The client side of a 429: wait what the daemon's Retry-After says (bounded) and send again. Used
 * by the reference agent and the admin CLI; the dashboard, compiled on its own for the browser,
 * has its own few lines (src/dashboard/api.ts).
 */
import { sleep as abortableSleep } from './backoff.js';

/** A Retry-After value (seconds, or an HTTP date) in ms, at least 0; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export interface RetryOn429Options {
  /** Most requests in all, the first included (default 4). */
  attempts?: number;
  /** Longest single wait (default 60 s): a daemon asking for more is not waited for. */
  maxWaitMs?: number;
  /** Used when a 429 carries no readable Retry-After (default 1 s). */
  defaultWaitMs?: number;
  /** Stops the waiting (the last answer, a 429, is returned). */
  signal?: AbortSignal;
  /** Told before each wait (a CLI may say so on stderr). */
  onWait?: (waitMs: number, attempt: number) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What happened across the attempts: the last answer, and how many were sent and waited. */
export interface RetryOutcome {
  response: Response;
  attempts: number;
  waitedMs: number;
}

/**
 * Send, and while the answer is a 429 wait its Retry-After and send again. A rate-limited request
 * was refused before the daemon read its body, so sending any method again is safe. Gives the
 * 429 back when the attempts run out or the daemon asks for a longer wait than `maxWaitMs`.
 */
export async function retryOn429(send: () => Promise<Response>, options: RetryOn429Options = {}): Promise<RetryOutcome> {
  const { attempts = 4, maxWaitMs = 60_000, defaultWaitMs = 1_000, signal, onWait, sleep = abortableSleep } = options;
  let waitedMs = 0;
  for (let attempt = 1; ; attempt++) {
    const response = await send();
    if (response.status !== 429 || attempt >= attempts || signal?.aborted) return { response, attempts: attempt, waitedMs };
    const wait = retryAfterMs(response.headers.get('retry-after')) ?? defaultWaitMs;
    if (wait > maxWaitMs) return { response, attempts: attempt, waitedMs };
    await response.arrayBuffer().catch(() => undefined); // free the connection for the next attempt
    onWait?.(wait, attempt);
    await sleep(wait, signal);
    waitedMs += wait;
  }
}

/** The words a client adds to a 429 it gives up on. */
export function gaveUpNote(outcome: RetryOutcome, maxWaitMs = 60_000): string {
  const asked = retryAfterMs(outcome.response.headers.get('retry-after'));
  if (asked !== null && asked > maxWaitMs) return `the daemon asks to wait ${Math.round(asked / 1000)} s, longer than this client waits (${maxWaitMs / 1000} s)`;
  return `still rate limited after ${outcome.attempts} attempts over ${Math.round(outcome.waitedMs / 1000)} s`;
}
