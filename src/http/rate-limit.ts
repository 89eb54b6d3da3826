/** Per-key token buckets (one per PAK, or per client address before authentication): 429 with Retry-After when empty. */

export interface RateLimitOptions {
  /** Sustained requests per second per key. */
  perSecond?: number;
  /** Requests a key may send at once after being idle. */
  burst?: number;
  /** Most keys remembered; the idlest are forgotten first (a full bucket carries no information). */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export interface TakeResult {
  ok: boolean;
  /** Whole seconds until one token is available again (only when !ok). */
  retryAfter: number;
}

/**
 * Buckets are refilled lazily on each take (no timers), and a Map keeps insertion order, so
 * re-inserting a key on use makes the first entries the idlest ones to evict.
 */
export class RateLimiter {
  readonly perSecond: number;
  readonly burst: number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor({ perSecond = 50, burst = 100, maxKeys = 50_000 }: RateLimitOptions = {}) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new Error('rate limit: perSecond must be > 0 and burst >= 1');
    this.perSecond = perSecond;
    this.burst = burst;
    this.#maxKeys = maxKeys;
  }

  take(key: string, now = Date.now()): TakeResult {
    const bucket = this.#buckets.get(key);
    let tokens = this.burst;
    if (bucket) {
      tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
      this.#buckets.delete(key);
    } else if (this.#buckets.size >= this.#maxKeys) {
      const idlest = this.#buckets.keys().next().value;
      if (idlest !== undefined) this.#buckets.delete(idlest);
    }
    if (tokens < 1) {
      this.#buckets.set(key, { tokens, at: now });
      return { ok: false, retryAfter: Math.max(1, Math.ceil((1 - tokens) / this.perSecond)) };
    }
    this.#buckets.set(key, { tokens: tokens - 1, at: now });
    return { ok: true, retryAfter: 0 };
  }

  get size(): number {
    return this.#buckets.size;
  }
}
