/**
 * Authentication: a PAK from `Authorization` becomes a Principal, through an in-memory cache so
 * that a poll does not touch the database, plus the per-route role and "that agent" checks.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { Principal, Store } from '../store/store.js';
import { ApiError } from './errors.js';
import { hashesEqual, hashPak } from './pak.js';
import { anonymousCaller, callerOf, type Caller, type RateLimiter } from './rate-limit.js';
import { routeConfig } from './route-config.js';

export type Role = Principal['role'];

/** Per-route access rule, set as `config.access` on a route; routes without one are public. */
export interface Access {
  roles: readonly Role[];
  /** Name of the path parameter that must equal the agent's own id when the caller is an agent. */
  self?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    access?: Access;
  }
}

/** Longest Authorization header value considered; anything longer cannot be one of our PAKs. */
const MAX_PAK_LENGTH = 512;

/** `Bearer <PAK>` (scheme case-insensitive) or a bare PAK; null when absent or malformed. */
export function extractPak(header: string | undefined): string | null {
  if (!header) return null;
  // The common case, "Bearer <PAK>" with one space and nothing around it, without a regex; anything else takes the general path.
  if (header.length <= MAX_PAK_LENGTH && header.startsWith('Bearer ')) {
    const pak = header.slice(7);
    if (pak.length > 0 && !/\s/.test(pak)) return pak;
  }
  const value = header.trim();
  if (value.length === 0 || value.length > MAX_PAK_LENGTH) return null;
  const match = /^bearer\s+(\S+)$/i.exec(value);
  const pak = match ? match[1] : value;
  return pak && !/\s/.test(pak) ? pak : null;
}

/** How often an operator's last_used_at is written at most. */
const USE_RECORD_INTERVAL_MS = 60_000;

export interface AuthenticatorOptions {
  /** How long a resolved PAK is trusted without asking the store (bounds staleness from other writers). */
  ttlMs?: number;
  maxEntries?: number;
}

/** Resolves PAKs to principals; invalidate on rotation or deletion so an old PAK stops at once. */
export class Authenticator {
  readonly #store: Store;
  /**
   * Resolved PAKs by PAK (one lookup per request, no hash: bench F13); least recently used dropped
   * when full, each trusted for ttlMs from its lookup. Only the hashes are stored in the database.
   */
  readonly #cache: LRUCache<string, Principal>;
  /**
   * Bumped by every invalidation. A lookup that started before an invalidation must not put its
   * (possibly stale) answer into the cache afterwards: it compares the generation it began with.
   */
  #generation = 0;
  /**
   * Lookups in flight by PAK, shared by concurrent requests with the same PAK: without this,
   * every poll arriving while a PAK's lookup waits for the database starts one more (on
   * PostgreSQL, 1,000 agents polling at full speed when their entries, cached together, expired
   * together made ~30,000 lookups, 60,000 statements, within 30 s and cut the 304 throughput to a fraction; bench
   * scenario 8). Cleared by every
   * invalidation, so a lookup begun before a rotation is never handed to a request after it.
   */
  readonly #inFlight = new Map<string, Promise<Principal | null>>();

  constructor(store: Store, { ttlMs = 60_000, maxEntries = 20_000 }: AuthenticatorOptions = {}) {
    this.#store = store;
    this.#cache = new LRUCache({ max: maxEntries, ttl: ttlMs });
  }

  /** The principal of a PAK if it is cached (and within its TTL), without asking the store: the 304 fast path's lookup (fast-poll.ts). */
  peek(pak: string): Principal | undefined {
    return this.#cache.get(pak);
  }

  async authenticate(pak: string): Promise<Principal | null> {
    const hit = this.#cache.get(pak);
    if (hit) return hit;
    const shared = this.#inFlight.get(pak);
    if (shared) return shared;
    const lookup = this.#lookup(pak);
    this.#inFlight.set(pak, lookup);
    const forget = () => {
      if (this.#inFlight.get(pak) === lookup) this.#inFlight.delete(pak);
    };
    lookup.then(forget, forget);
    return lookup;
  }

  async #lookup(pak: string): Promise<Principal | null> {
    const generation = this.#generation;
    const hash = hashPak(pak);
    const principal = await this.#store.findPrincipal(hash);
    if (!principal) return null;
    // The store found the row by hash; compare once more in constant time so a store that
    // matched loosely (case, prefix) can never let a different key in.
    if (principal.role === 'agent' && !hashesEqual(principal.agent.pak_hash, hash)) return null;
    if (generation === this.#generation) this.#cache.set(pak, principal);
    return principal;
  }

  /** When each operator's use was last recorded: at most one write per operator a minute, never awaited. */
  readonly #lastUse = new Map<string, number>();

  /** Record an operator's use of its PAK (paks list shows it), throttled; agents and generators are not recorded here. */
  noteUse(principal: Principal, now = Date.now()): void {
    if (principal.role !== 'admin' && principal.role !== 'readonly') return;
    const last = this.#lastUse.get(principal.operator_id);
    if (last !== undefined && now - last < USE_RECORD_INTERVAL_MS) return;
    this.#lastUse.set(principal.operator_id, now);
    this.#store.touchOperator(principal.operator_id).catch(() => this.#lastUse.delete(principal.operator_id));
  }

  /** Forget every cached PAK of one agent (rotation, deletion, update). */
  invalidateAgent(agentId: string): void {
    this.#generation += 1;
    this.#inFlight.clear();
    const stale: string[] = [];
    for (const [pak, p] of this.#cache.entries()) if (p.role === 'agent' && p.agent.id === agentId) stale.push(pak);
    for (const pak of stale) this.#cache.delete(pak);
  }

  /** Forget everything (admin PAK replaced). */
  invalidateAll(): void {
    this.#generation += 1;
    this.#inFlight.clear();
    this.#cache.clear();
  }

  get cached(): number {
    return this.#cache.size;
  }
}

function tooMany(retryAfter: number): ApiError {
  return new ApiError('rate_limited', `too many requests; retry in ${retryAfter} s`, { 'Retry-After': String(retryAfter) });
}

/**
 * The onRequest hook: runs before the body is read, so unauthenticated callers cannot make the
 * server parse anything. Order: PAK present → rate limit → PAK known → role → own resource.
 */
export function installAuth(app: FastifyInstance, auth: Authenticator, limiter: RateLimiter | null): void {
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const access = routeConfig(request)?.access;
    if (!access) return;
    normalizeIds(request.params as Record<string, string> | undefined);
    const pak = extractPak(request.headers.authorization);
    if (!pak) {
      limit(limiter, anonymousCaller(request.ip));
      throw new ApiError('unauthorized', 'missing PAK: send "Authorization: Bearer <PAK>"', { 'WWW-Authenticate': 'Bearer' });
    }
    const principal = await auth.authenticate(pak);
    // Keyed by role and identity, never the PAK: each caller has its own bucket, sized by its role's budget.
    limit(limiter, principal ? callerOf(principal) : anonymousCaller(request.ip));
    if (!principal) throw new ApiError('unauthorized', 'unknown PAK', { 'WWW-Authenticate': 'Bearer' });
    if (!mayCall(access, principal, request.method)) throw refusal(access, principal, request);
    auth.noteUse(principal);
    if (principal.role === 'agent' && access.self) {
      const wanted = (request.params as Record<string, string | undefined>)[access.self];
      if (wanted !== principal.agent.id) throw new ApiError('forbidden', 'an agent may only access its own resources');
    }
    request.principal = principal;
  });
}

/**
 * A readonly operator may call every route an admin may, to read (GET, HEAD); every other method
 * is a write and refused, so a route added later is read-only-safe without being listed anywhere.
 */
export function mayCall(access: Access, principal: Principal, method: string): boolean {
  if (access.roles.includes(principal.role)) return true;
  return principal.role === 'readonly' && access.roles.includes('admin') && (method === 'GET' || method === 'HEAD');
}

function refusal(access: Access, principal: Principal, request: FastifyRequest): ApiError {
  if (principal.role === 'readonly' && access.roles.includes('admin')) {
    return new ApiError(
      'forbidden',
      `operator ${JSON.stringify(principal.name)} has a readonly PAK: it may read but not write (${request.method} ${request.routeOptions.url ?? request.url} needs an admin PAK)`,
    );
  }
  return new ApiError('forbidden', `this route needs the ${access.roles.join(' or ')} role; the PAK is ${principal.role === 'generator' ? 'a' : 'an'} ${principal.role} PAK`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const ID_PARAMS = ['id', 'stack_id'] as const;

function hasUpperHex(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 65 && c <= 70) return true; // A-F
  }
  return false;
}

/** UUIDs are stored lowercase; accept any case in the path (only id parameters, never labels). */
function normalizeIds(params: Record<string, string> | undefined): void {
  if (!params) return;
  for (const name of ID_PARAMS) {
    const value = params[name];
    // Only a 36-character value with an upper-case letter can change (most are lowercase already).
    if (typeof value === 'string' && value.length === 36 && hasUpperHex(value) && UUID.test(value)) params[name] = value.toLowerCase();
  }
}

function limit(limiter: RateLimiter | null, caller: Caller): void {
  if (!limiter) return;
  const taken = limiter.take(caller);
  if (!taken.ok) throw tooMany(taken.retryAfter);
}

/** Rate-limit a public route by client address (webhooks). */
export function limitByAddress(limiter: RateLimiter | null, request: FastifyRequest): void {
  limit(limiter, anonymousCaller(request.ip));
}
