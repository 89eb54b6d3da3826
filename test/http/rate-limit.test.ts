/** Per-PAK token buckets: 429 with Retry-After once a caller's burst is spent; other callers unaffected. */
import { describe, expect, it } from 'vitest';
import { hashPak } from '../../src/http/pak.js';
import { RateLimiter } from '../../src/http/rate-limit.js';
import { startTestServer, type Reply } from './http-fixture.js';

describe('RateLimiter', () => {
  it('allows a burst, then refills at the sustained rate', () => {
    const limiter = new RateLimiter({ perSecond: 2, burst: 3 });
    const t = 1_000_000;
    expect([1, 2, 3].map(() => limiter.take('k', t).ok)).toEqual([true, true, true]);
    const refused = limiter.take('k', t);
    expect(refused).toEqual({ ok: false, retryAfter: 1 });
    expect(limiter.take('k', t + 500).ok).toBe(true); // one token after 0.5 s at 2/s
    expect(limiter.take('k', t + 500).ok).toBe(false);
    expect(limiter.take('other', t).ok).toBe(true);
  });

  it('forgets the idlest keys beyond its size limit', () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1, maxKeys: 2 });
    limiter.take('a', 0);
    limiter.take('b', 0);
    limiter.take('c', 0);
    expect(limiter.size).toBe(2);
    expect(limiter.take('a', 0).ok).toBe(true); // forgotten, so a full bucket again
  });

  it('rejects nonsense settings', () => {
    expect(() => new RateLimiter({ perSecond: 0 })).toThrow(/perSecond/);
  });
});

describe('rate limiting over HTTP', () => {
  it('a PAK over its burst gets 429 rate_limited with Retry-After; another PAK still gets through', async () => {
    const s = await startTestServer({ rateLimit: { perSecond: 0.5, burst: 5 } });
    const statuses: number[] = [];
    let limited: Reply | null = null;
    for (let i = 0; i < 8; i++) {
      const res = await s.call('GET', '/api/v1/agents');
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    expect(limited!.body.code).toBe('rate_limited');
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // The admin spent its bucket; an agent (created in the store, the admin cannot ask any more) has its own.
    const agent = await s.store.createAgent({ name: 'a', cluster_name: 'c', pak_hash: hashPak('brk_agent-key-for-rate-limit-test') });
    expect((await s.call('GET', `/api/v1/agents/${agent.id}`, { pak: 'brk_agent-key-for-rate-limit-test' })).status).toBe(200);
  });

  it('requests without a valid PAK are limited per client address', async () => {
    const s = await startTestServer({ rateLimit: { perSecond: 0.5, burst: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await s.call('GET', '/api/v1/agents', { pak: `brk_guess${i}` })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });
});
