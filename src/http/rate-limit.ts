/**
 * Rate limits per role: each caller (one agent, one generator, one operator, or one client address
 * without a valid PAK) has its own token bucket, sized by its role's budget, so an agent spending
 * its budget never slows an admin or a read-only operator. An empty bucket is a 429 with
 * Retry-After (auth.ts throws it).
 */

/** A bucket's size: sustained requests per second, and how many may come at once after a rest. */
export interface Budget {
  perSecond: number;
  burst: number;
}

/**
 * The roles budgets are set for: the principal roles (readonly: operators who read everything and
 * write nothing) plus `anonymous`, requests without a valid PAK, counted per client address.
 */
export const LIMITED_ROLES = ['admin', 'readonly', 'agent', 'generator', 'anonymous'] as const;
export type LimitedRole = (typeof LIMITED_ROLES)[number];

/** A budget per role; null: that role is not limited. */
export type Budgets = Record<LimitedRole, Budget | null>;

/**
 * Defaults: an agent long-polls, so 50/s is far above what one needs (a fleet of 1,000 polling
 * at full speed stays under it), while its burst of 100 covers a pass reporting an event per
 * stack; operators get twice that, since the dashboard loads a view in a handful of requests.
 */
export const DEFAULT_BUDGETS: Readonly<Budgets> = Object.freeze({
  admin: { perSecond: 100, burst: 200 },
  readonly: { perSecond: 100, burst: 200 },
  agent: { perSecond: 50, burst: 100 },
  generator: { perSecond: 50, burst: 100 },
  anonymous: { perSecond: 50, burst: 100 },
});

export interface RateLimitOptions {
  /** Budgets by role; roles left out keep their default. */
  budgets?: Partial<Budgets>;
  /** Most buckets remembered; the idlest are forgotten first (a full bucket carries no information). */
  maxKeys?: number;
}

/** Who is asking, as the limiter counts: the principal's role string and its identity within the role. */
export interface Caller {
  role: string;
  id: string;
  /** `role:id`, the bucket's key, when already built (callerOf builds it once per principal). */
  key?: string;
}

/**
 * The caller behind a principal. Keyed by the role *string*, so a role added later (e.g. named
 * operators) gets its own budget by name; the identity is the agent's or generator's id, or an
 * operator's name when the principal carries one, never the PAK.
 */
export function callerOf(principal: { role: string } & Record<string, unknown>): Caller {
  // A principal comes from the authenticator's cache, the same object on every poll: its caller
  // (and key string) is made once, not per request (bench F13).
  const known = callers.get(principal);
  if (known && known.role === principal.role) return known;
  const { role } = principal;
  const id = String((principal.agent as { id?: string } | undefined)?.id ?? (principal.generator as { id?: string } | undefined)?.id ?? principal.name ?? '');
  const caller = { role, id, key: `${role}:${id}` };
  callers.set(principal, caller);
  return caller;
}

const callers = new WeakMap<object, Caller>();

/** A request without a valid PAK: limited per client address. */
export const anonymousCaller = (address: string): Caller => ({ role: 'anonymous', id: address });

interface Bucket {
  tokens: number;
  at: number;
}

/** Every successful take answers the same frozen object (no allocation per request). */
const TAKEN: TakeResult = Object.freeze({ ok: true, retryAfter: 0 });

export interface TakeResult {
  ok: boolean;
  /** Whole seconds until one token is available again (only when !ok). */
  retryAfter: number;
}

/**
 * Buckets are refilled lazily on each take (no timers), and a Map keeps insertion order, so
 * re-inserting a key on use makes the first entries the idlest ones to evict (an LRU in four
 * lines; lru-cache would not delete code here).
 */
export class RateLimiter {
  readonly budgets: Readonly<Budgets>;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor({ budgets = {}, maxKeys = 50_000 }: RateLimitOptions = {}) {
    this.budgets = { ...DEFAULT_BUDGETS, ...budgets };
    for (const [role, budget] of Object.entries(this.budgets)) {
      if (budget && (!(budget.perSecond > 0) || !(budget.burst >= 1))) throw new Error(`rate limit of ${role}: perSecond must be > 0 and burst >= 1`);
    }
    this.#maxKeys = maxKeys;
  }

  /** The budget of a role; a role this version does not know is limited as an agent is. */
  budgetOf(role: string): Budget | null {
    return role in this.budgets ? this.budgets[role as LimitedRole] : this.budgets.agent;
  }

  take(caller: Caller, now = Date.now()): TakeResult {
    const budget = this.budgetOf(caller.role);
    if (!budget) return TAKEN;
    const key = caller.key ?? `${caller.role}:${caller.id}`;
    let bucket = this.#buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(budget.burst, bucket.tokens + ((now - bucket.at) / 1000) * budget.perSecond);
      bucket.at = now;
      this.#buckets.delete(key); // re-inserted below: the most recently used key goes last
    } else {
      if (this.#buckets.size >= this.#maxKeys) {
        const idlest = this.#buckets.keys().next().value;
        if (idlest !== undefined) this.#buckets.delete(idlest);
      }
      bucket = { tokens: budget.burst, at: now };
    }
    this.#buckets.set(key, bucket);
    if (bucket.tokens < 1) return { ok: false, retryAfter: Math.max(1, Math.ceil((1 - bucket.tokens) / budget.perSecond)) };
    bucket.tokens -= 1;
    return TAKEN;
  }

  get size(): number {
    return this.#buckets.size;
  }
}

/** A `--rate-limit` value that cannot be read: the message says what and why. */
export class RateLimitSyntaxError extends Error {
  override name = 'RateLimitSyntaxError';
}

/**
 * `--rate-limit` (or `rate-limit:` in the config file) → options, or false for off:
 * `0` or `off` turns limiting off; `agent=20,admin=100` sets those roles' budgets
 * (`ROLE=RATE[/BURST]`: RATE requests per second, BURST at once, default twice RATE; RATE 0: that
 * role unlimited); a config file may give the same as a mapping `{agent: 20, admin: "100/300"}`.
 */
export function parseRateLimit(value: unknown, where = '--rate-limit'): RateLimitOptions | false {
  if (value === 0 || value === '0' || value === 'off' || value === false) return false;
  let pairs: [string, unknown][];
  if (typeof value === 'string') {
    pairs = value.split(',').map((part) => {
      const [role, budget, extra] = part.split('=').map((s) => s.trim());
      if (!role || budget === undefined || extra !== undefined) {
        throw new RateLimitSyntaxError(`${where}: "${part.trim()}" is not ROLE=RATE[/BURST] (e.g. agent=20,admin=100, or 0 for off)`);
      }
      return [role, budget];
    });
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    pairs = Object.entries(value);
  } else {
    throw new RateLimitSyntaxError(`${where}: expected 0 (off) or ROLE=RATE[/BURST],... (e.g. agent=20,admin=100), not ${JSON.stringify(value)}`);
  }
  const budgets: Partial<Budgets> = {};
  for (const [role, raw] of pairs) {
    if (!(LIMITED_ROLES as readonly string[]).includes(role)) {
      throw new RateLimitSyntaxError(`${where}: unknown role "${role}" (roles: ${LIMITED_ROLES.join(', ')})`);
    }
    budgets[role as LimitedRole] = parseBudget(String(raw), `${where} ${role}`);
  }
  return { budgets };
}

function parseBudget(text: string, where: string): Budget | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(\d+)\s*)?$/.exec(text);
  if (!match) throw new RateLimitSyntaxError(`${where}: "${text}" is not RATE[/BURST] (requests per second, optionally /burst: e.g. 20 or 20/50)`);
  const perSecond = Number(match[1]);
  if (perSecond === 0) return null;
  const burst = match[2] === undefined ? Math.max(1, Math.ceil(perSecond * 2)) : Number(match[2]);
  if (burst < 1) throw new RateLimitSyntaxError(`${where}: the burst must be at least 1`);
  return { perSecond, burst };
}
