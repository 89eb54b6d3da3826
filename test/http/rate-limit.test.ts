/**
 * Rate limits per role: each caller has its own token bucket sized by its role's budget, 429 with
 * Retry-After when it is empty; `--rate-limit` syntax; and the clients (admin CLI client, the
 * reference agent's client, the dashboard's fetch wrapper) waiting a 429 out against a real server.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiClient, AgentApiError } from '../../src/agent/api-client.js';
import { AdminClient, HttpError } from '../../src/cli/admin-client.js';
import { api, ApiFailure } from '../../src/dashboard/api.js';
import { hashPak } from '../../src/http/pak.js';
import { callerOf, parseRateLimit, RateLimiter, RateLimitSyntaxError } from '../../src/http/rate-limit.js';
import { retryAfterMs } from '../../src/agent/retry-after.js';
import { startTestServer, type TestServer } from './http-fixture.js';

const agent = (id: string) => ({ role: 'agent', id });

describe('RateLimiter', () => {
  it('allows a burst, then refills at the sustained rate, per caller', () => {
    const limiter = new RateLimiter({ budgets: { agent: { perSecond: 2, burst: 3 } } });
    const t = 1_000_000;
    expect([1, 2, 3].map(() => limiter.take(agent('a'), t).ok)).toEqual([true, true, true]);
    expect(limiter.take(agent('a'), t)).toEqual({ ok: false, retryAfter: 1 });
    expect(limiter.take(agent('a'), t + 500).ok).toBe(true); // one token after 0.5 s at 2/s
    expect(limiter.take(agent('a'), t + 500).ok).toBe(false);
    expect(limiter.take(agent('b'), t).ok).toBe(true);
  });

  it('an agent that spent its budget never slows an admin or a read-only operator: each role has its own budget', () => {
    const limiter = new RateLimiter({ budgets: { agent: { perSecond: 1, burst: 1 }, admin: { perSecond: 1, burst: 2 }, readonly: { perSecond: 1, burst: 2 } } });
    expect(limiter.take(agent('a'), 0).ok).toBe(true);
    expect(limiter.take(agent('a'), 0).ok).toBe(false);
    for (const role of ['admin', 'readonly']) {
      const op = callerOf({ role, name: 'ops', operator_id: 'x' });
      expect([limiter.take(op, 0).ok, limiter.take(op, 0).ok, limiter.take(op, 0).ok]).toEqual([true, true, false]);
    }
    // Two operators of one role have a bucket each.
    expect(limiter.take(callerOf({ role: 'admin', name: 'ci', operator_id: 'y' }), 0).ok).toBe(true);
  });

  it('a role whose budget is null is not limited; a role this version does not know is limited like an agent', () => {
    const limiter = new RateLimiter({ budgets: { admin: null, agent: { perSecond: 1, burst: 1 } } });
    for (let i = 0; i < 1000; i++) expect(limiter.take({ role: 'admin', id: '' }, 0).ok).toBe(true);
    expect(limiter.take({ role: 'auditor', id: 'z' }, 0).ok).toBe(true);
    expect(limiter.take({ role: 'auditor', id: 'z' }, 0).ok).toBe(false);
  });

  it('forgets the idlest keys beyond its size limit', () => {
    const limiter = new RateLimiter({ budgets: { agent: { perSecond: 1, burst: 1 } }, maxKeys: 2 });
    limiter.take(agent('a'), 0);
    limiter.take(agent('b'), 0);
    limiter.take(agent('c'), 0);
    expect(limiter.size).toBe(2);
    expect(limiter.take(agent('a'), 0).ok).toBe(true); // forgotten, so a full bucket again
  });

  it('rejects nonsense budgets', () => {
    expect(() => new RateLimiter({ budgets: { agent: { perSecond: 0, burst: 1 } } })).toThrow(/rate limit of agent: perSecond/);
  });
});

describe('--rate-limit syntax', () => {
  it('0 or off turns limiting off; ROLE=RATE[/BURST] sets roles (burst defaults to twice the rate; 0: unlimited)', () => {
    expect(parseRateLimit(0)).toBe(false);
    expect(parseRateLimit('0')).toBe(false);
    expect(parseRateLimit('off')).toBe(false);
    expect(parseRateLimit('agent=20, admin=100/150,readonly=0')).toEqual({
      budgets: { agent: { perSecond: 20, burst: 40 }, admin: { perSecond: 100, burst: 150 }, readonly: null },
    });
    expect(parseRateLimit('anonymous=0.5')).toEqual({ budgets: { anonymous: { perSecond: 0.5, burst: 1 } } });
  });

  it('a config file may give a mapping of role to RATE[/BURST]', () => {
    expect(parseRateLimit({ agent: 5, generator: '10/30' }, 'rate-limit')).toEqual({
      budgets: { agent: { perSecond: 5, burst: 10 }, generator: { perSecond: 10, burst: 30 } },
    });
  });

  it('says what is wrong with a bad value', () => {
    expect(() => parseRateLimit('agnet=5')).toThrow(/--rate-limit: unknown role "agnet" \(roles: admin, readonly, agent, generator, anonymous\)/);
    expect(() => parseRateLimit('agent')).toThrow(/"agent" is not ROLE=RATE\[\/BURST\]/);
    expect(() => parseRateLimit('agent=fast')).toThrow(/--rate-limit agent: "fast" is not RATE\[\/BURST\]/);
    expect(() => parseRateLimit('agent=5/0')).toThrow(/burst must be at least 1/);
    expect(() => parseRateLimit(['agent=5'])).toThrow(RateLimitSyntaxError);
  });
});

describe('Retry-After', () => {
  it('reads seconds or an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs(null)).toBeNull();
    expect(retryAfterMs('soon')).toBeNull();
  });
});

describe('rate limiting over HTTP', () => {
  it('an agent over its budget gets 429 rate_limited with Retry-After while the admin still gets through', async () => {
    const s = await startTestServer({ rateLimit: { budgets: { agent: { perSecond: 0.5, burst: 3 }, admin: { perSecond: 0.5, burst: 5 } } } });
    const a = await s.store.createAgent({ name: 'a', cluster_name: 'c', pak_hash: hashPak('brk_agent-key-for-rate-limit-test') });
    const statuses: number[] = [];
    let limited = null;
    for (let i = 0; i < 6; i++) {
      const res = await s.call('GET', `/api/v1/agents/${a.id}`, { pak: 'brk_agent-key-for-rate-limit-test' });
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    expect(limited!.body.code).toBe('rate_limited');
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 5; i++) expect((await s.call('GET', '/api/v1/agents')).status).toBe(200);
    expect((await s.call('GET', '/api/v1/agents')).status).toBe(429); // the admin's own budget still holds
  });

  it("a readonly operator has the readonly budget, apart from the agents' and the admin's", async () => {
    const s = await startTestServer({
      rateLimit: { budgets: { agent: { perSecond: 0.5, burst: 1 }, admin: { perSecond: 0.5, burst: 1 }, readonly: { perSecond: 0.5, burst: 4 } } },
    });
    await s.store.createOperator({ name: 'auditor', role: 'readonly', pak_hash: hashPak('brk_readonly-key-for-rate-limit-test') });
    const { agent: a, pak } = await s.createAgent({ name: 'edge' }); // the admin's one request
    expect((await s.call('GET', '/api/v1/agents')).status).toBe(429);
    expect((await s.call('GET', `/api/v1/agents/${a.id}`, { pak })).status).toBe(200);
    expect((await s.call('GET', `/api/v1/agents/${a.id}`, { pak })).status).toBe(429);
    const asReadonly: number[] = [];
    for (let i = 0; i < 5; i++) asReadonly.push((await s.call('GET', '/api/v1/agents', { pak: 'brk_readonly-key-for-rate-limit-test' })).status);
    expect(asReadonly).toEqual([200, 200, 200, 200, 429]);
  });

  it('requests without a valid PAK are limited per client address (the anonymous budget)', async () => {
    const s = await startTestServer({ rateLimit: { budgets: { anonymous: { perSecond: 0.5, burst: 3 } } } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await s.call('GET', '/api/v1/agents', { pak: `brk_guess${i}` })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    expect((await s.call('GET', '/api/v1/agents')).status).toBe(200); // the admin is not an anonymous caller
  });
});

/** Spend a PAK's bucket until the daemon answers 429. */
async function spend(s: TestServer, path: string, pak: string): Promise<void> {
  for (let i = 0; i < 100; i++) if ((await s.call('GET', path, { pak })).status === 429) return;
  throw new Error('the bucket never ran empty');
}

describe('clients wait a 429 out', () => {
  // perSecond 1: Retry-After 1 s. perSecond 0.01: Retry-After 100 s, longer than any client waits.
  const tiny = (perSecond: number) => ({ rateLimit: { budgets: { agent: { perSecond, burst: 1 }, admin: { perSecond, burst: 1 } } } });

  it('the admin CLI client waits Retry-After and succeeds', async () => {
    const s = await startTestServer(tiny(1));
    await spend(s, '/api/v1/agents', s.adminPak);
    const waits: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (waits.push(String(chunk)), true));
    try {
      expect(await new AdminClient(s.base, s.adminPak).listAgents()).toEqual([]);
    } finally {
      write.mockRestore();
    }
    expect(waits.join('')).toMatch(/rate limited by the daemon \(429\); retrying in 1 s/);
  });

  it('the admin CLI client gives up with a clear message when the daemon asks for more than a minute', async () => {
    const s = await startTestServer(tiny(0.01));
    await spend(s, '/api/v1/agents', s.adminPak);
    const failure = await new AdminClient(s.base, s.adminPak).listAgents().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(HttpError);
    expect((failure as HttpError).status).toBe(429);
    expect((failure as HttpError).message).toMatch(/^429 rate_limited: too many requests; retry in 100 s; gave up: the daemon asks to wait 100 s, longer than this client waits \(60 s\)/);
  });

  it('the reference agent client waits Retry-After and succeeds; it gives up (a network-kind failure the run loop backs off from) when told to wait too long', async () => {
    const s = await startTestServer(tiny(1));
    const { agent: a, pak } = await s.createAgent({ name: 'edge' });
    await spend(s, `/api/v1/agents/${a.id}`, pak);
    const waited: string[] = [];
    const client = new ApiClient({ url: s.base, pak, onRateLimited: (ms, request) => waited.push(`${ms} ${request}`) });
    await client.heartbeat(a.id);
    expect(waited).toEqual([`1000 POST /api/v1/agents/${a.id}/heartbeat`]);

    const slow = await startTestServer(tiny(0.01));
    const other = await slow.createAgent({ name: 'edge' });
    await spend(slow, `/api/v1/agents/${other.agent.id}`, other.pak);
    const failure = await new ApiClient({ url: slow.base, pak: other.pak }).heartbeat(other.agent.id).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(AgentApiError);
    expect(failure).toMatchObject({ kind: 'unreachable', status: 429, code: 'rate_limited' });
    expect((failure as Error).message).toMatch(/gave up for now: the daemon asks to wait 100 s/);
  });

  describe("the dashboard's fetch wrapper", () => {
    afterEach(() => vi.unstubAllGlobals());
    // The browser resolves /api/v1/... against the page; here against the test server.
    const against = (s: TestServer) => {
      const real = globalThis.fetch;
      vi.stubGlobal('fetch', (url: string, init: RequestInit) => real(`${s.base}${url}`, init));
    };

    it('waits Retry-After and succeeds', async () => {
      const s = await startTestServer(tiny(1));
      await spend(s, '/api/v1/agents', s.adminPak);
      against(s);
      expect(await api('/agents', { pak: s.adminPak })).toEqual([]);
    });

    it('shows the 429 with a note when the wait asked for is too long', async () => {
      const s = await startTestServer(tiny(0.01));
      await spend(s, '/api/v1/agents', s.adminPak);
      against(s);
      const failure = await api('/agents', { pak: s.adminPak }).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(ApiFailure);
      expect(failure).toMatchObject({ status: 429, code: 'rate_limited' });
      expect((failure as Error).message).toMatch(/too many requests; retry in 100 s — the daemon asks to wait 100 s; try again then/);
    });
  });
});
