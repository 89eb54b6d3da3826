/**
 * Target-state ETags and their cache: what lets thousands of agents poll without touching the database.
 *
 * The tag of an agent's target state is a hash of the sequence ids it contains (objects are
 * immutable, so ids name content), computed from one indexed query. It is cached per
 * (agent, mode) together with the change epochs it was computed at:
 *
 * - the global epoch counts change-feed notifications that may concern every agent (a commit
 *   synced, anything announced by other writers through `feed.notify()`);
 * - the agent epoch counts changes that concern one agent only (its events, labels,
 *   annotations, targets), announced through `agentChanged()`, or a few (a rollout wave released
 *   to them: `agentsChanged()`, so a release re-queries that wave, not the fleet).
 *
 * A commit that only gave some stacks new objects is announced with those stacks
 * (`feed.notify({ stacks })`): it bumps the agent epochs of just the agents whose cached state
 * holds one of them, so with 1,000 parked long polls a commit re-queries a handful, not all.
 *
 * While neither moved, repeated polls (and long polls woken by somebody else's change) reuse
 * the cached tag without a query. `maxAgeMs` bounds how long a tag is trusted anyway, for
 * writers that share the database file but not this process's feed; on SQLite a tag past that age
 * is re-read only if another connection wrote the file since (`PRAGMA data_version`).
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { ChangeFeed, ChangeScope } from '../change-feed.js';
import type { Store, TargetStateEntry } from '../store/store.js';
import { externalWriteCounter } from '../store/external-writes.js';

export type TargetMode = 'incremental' | 'full';

export interface TargetState {
  /** Quoted strong ETag. */
  etag: string;
  /** Newest sequence_id first, as the store returned it. */
  entries: TargetStateEntry[];
  /** The global epoch the state was computed at (keys the serialized-body cache). */
  global: number;
}

interface CacheEntry {
  global: number;
  agent: number;
  at: number;
  /** The store's count of other processes' writes when the state was read (0 when it cannot tell). */
  external: number;
  state: Promise<TargetState>;
  /** The state once the query answered (what `peek` serves without a promise). */
  value?: TargetState;
}

export interface TargetStatesOptions {
  maxAgeMs?: number;
  maxEntries?: number;
  /** Budget of the serialized-body cache, in bytes (default 64 MiB). */
  maxBodyBytes?: number;
}

/** The ETag of a list of target-state entries (cheap: a hash of a few numbers). */
export function etagOf(entries: TargetStateEntry[]): string {
  const h = createHash('sha1');
  for (const e of entries) h.update(`${e.sequence_id},`);
  return `"ts-${entries.length}-${h.digest('base64url').slice(0, 16)}"`;
}

export class TargetStates {
  readonly #store: Store;
  readonly #feed: ChangeFeed;
  readonly #maxAgeMs: number;
  /** Computed states by `agent:mode`, least recently used dropped past maxEntries. */
  readonly #cache: LRUCache<string, CacheEntry>;
  readonly #agentEpochs = new Map<string, number>();
  /** How many feed notifications were agent-scoped; feed.version minus this is the global epoch. */
  #scoped = 0;
  /** Stack id → agents whose cached state holds one of its objects (for stack-scoped notifications). */
  readonly #holders = new Map<string, Set<string>>();
  /** Agents with a query in flight: its result is not indexed yet, so any scoped change invalidates it. */
  readonly #pending = new Map<string, number>();
  /**
   * Serialized 200 bodies by `global epoch:ETag`. Objects are immutable, so within one global
   * epoch an ETag determines the bytes; agents of one label group share identical states, so
   * after a commit one serialization (and one getObjects) serves them all — concurrent requests
   * share the promise (lru-cache's fetch). Only the current epoch can ever hit, so older entries
   * are dropped. Bounded by their total length; a failed serialization is not kept.
   *
   * Kept as UTF-8 bytes (a Buffer, outside V8's heap; they are sent as bytes anyway): as strings,
   * 200 distinct 70 KB bodies were ~13 MiB of live heap, and V8 sizes its heap in proportion to
   * what is live — the daemon's RSS was ~6 MiB higher with strings (docs/BENCHMARKS.md F5).
   */
  readonly #bodies: LRUCache<string, Buffer, () => Promise<string>>;
  #bodiesEpoch = -1;
  /** Other processes' writes so far (SQLite), or null: then a tag past maxAgeMs is always re-read. */
  readonly #external: (() => number) | null;
  /**
   * One entry list per ETag, shared by every agent whose state it is (agents of one label group
   * hold the same objects): the tag names the sequence ids, and ids name immutable objects, so
   * equal tags mean equal lists. Without it each agent's cached state held its own copy of the
   * rows and their id strings — at 1,000 agents and 10,000 stacks most of the live heap's
   * ~220,000 small strings (docs/BENCHMARKS.md F5). Held weakly: a list lives as long as some
   * cached state holds it, and its tag is forgotten when it is collected.
   */
  readonly #lists = new Map<string, WeakRef<TargetStateEntry[]>>();
  readonly #listCollected = new FinalizationRegistry<string>((etag) => {
    if (this.#lists.get(etag)?.deref() === undefined) this.#lists.delete(etag);
  });

  constructor(store: Store, feed: ChangeFeed, { maxAgeMs = 5_000, maxEntries = 50_000, maxBodyBytes = 64 * 1024 * 1024 }: TargetStatesOptions = {}) {
    this.#store = store;
    this.#feed = feed;
    this.#maxAgeMs = maxAgeMs;
    this.#cache = new LRUCache({ max: maxEntries });
    this.#bodies = new LRUCache({
      maxSize: maxBodyBytes,
      sizeCalculation: (bytes) => Math.max(1, bytes.length),
      // A new epoch clears the cache, and a full cache evicts, while serializations are in flight:
      // their requests still get the body (lru-cache would otherwise reject them as aborted).
      ignoreFetchAbort: true,
      fetchMethod: async (_etag, _stale, { context: produce }) => Buffer.from(await produce()),
    });
    this.#external = externalWriteCounter(store);
    feed.onNotify((scope) => this.#onNotify(scope));
  }

  /** A notification about some stacks only: bump the epochs of the agents that hold them. */
  #onNotify(scope: ChangeScope | undefined): void {
    if (!scope?.stacks) return; // global: every cached tag is stale
    const agents = new Set<string>(this.#pending.keys());
    for (const stack of scope.stacks) for (const agent of this.#holders.get(stack) ?? []) agents.add(agent);
    for (const agent of agents) this.#agentEpochs.set(agent, (this.#agentEpochs.get(agent) ?? 0) + 1);
    this.#scoped += 1;
  }

  #index(agentId: string, entries: TargetStateEntry[]): void {
    for (const e of entries) {
      let set = this.#holders.get(e.stack_id);
      if (!set) this.#holders.set(e.stack_id, (set = new Set()));
      set.add(agentId);
    }
  }

  /** The serialized answer for a state, as UTF-8 bytes: from the cache, or produced once and cached. */
  async body(state: TargetState, produce: () => Promise<string>): Promise<Buffer> {
    if (state.global !== this.#bodiesEpoch) {
      if (state.global < this.#bodiesEpoch) return Buffer.from(await produce()); // a late request of an older epoch
      this.#bodies.clear();
      this.#bodiesEpoch = state.global;
    }
    // fetch() is undefined only when its method gives undefined, which produce() never does.
    return (await this.#bodies.fetch(state.etag, { context: produce })) ?? Buffer.from(await produce());
  }

  #globalEpoch(): number {
    return this.#feed.version - this.#scoped;
  }

  /** The cache entry of `key` if it still holds the current state (nothing relevant changed since it was read). */
  #fresh(key: string, global: number, agent: number, now: number): CacheEntry | undefined {
    const hit = this.#cache.get(key);
    if (hit && hit.global === global && hit.agent === agent) {
      if (now - hit.at < this.#maxAgeMs) return hit;
      // Past its age, the tag is still current if no other process has written the database since
      // it was read: every write of this process moved an epoch. (A re-read here was ~10 % of the
      // CPU of a 304 with 1,000 agents polling: one query per agent every 5 s — bench F13.)
      if (this.#external !== null && this.#external() === hit.external) {
        hit.at = now;
        return hit;
      }
    }
    return undefined;
  }

  /**
   * The agent's current state if `current` would answer it from the cache and its query has
   * answered: the same check, without a promise (the 304 fast path, fast-poll.ts). Undefined
   * otherwise — then `current` decides (and queries).
   */
  peek(agentId: string, mode: TargetMode, now = Date.now()): TargetState | undefined {
    return this.#fresh(`${agentId}:${mode}`, this.#globalEpoch(), this.#agentEpochs.get(agentId) ?? 0, now)?.value;
  }

  /** The agent's current target state; served from cache while nothing relevant changed. */
  current(agentId: string, mode: TargetMode, now = Date.now()): Promise<TargetState> {
    const key = `${agentId}:${mode}`;
    // Epochs are read BEFORE the query: a change committed after the query bumps them, so a
    // stale answer can never be cached as current.
    const global = this.#globalEpoch();
    const agent = this.#agentEpochs.get(agentId) ?? 0;
    const hit = this.#fresh(key, global, agent, now);
    if (hit) return hit.state;
    const external = this.#external?.() ?? 0;
    this.#pending.set(agentId, (this.#pending.get(agentId) ?? 0) + 1);
    const done = () => {
      const n = (this.#pending.get(agentId) ?? 1) - 1;
      if (n === 0) this.#pending.delete(agentId);
      else this.#pending.set(agentId, n);
    };
    const state = this.#store.targetStateIds(agentId, mode).then(
      (rows) => {
        const etag = etagOf(rows);
        let entries = this.#lists.get(etag)?.deref();
        if (entries === undefined) {
          entries = rows;
          this.#lists.set(etag, new WeakRef(rows));
          this.#listCollected.register(rows, etag);
        }
        this.#index(agentId, entries);
        done();
        return (entry.value = { etag, entries, global });
      },
      (err: unknown) => {
        done();
        throw err;
      },
    );
    const entry: CacheEntry = { global, agent, at: now, external, state };
    this.#cache.set(key, entry);
    state.catch(() => {
      if (this.#cache.get(key) === entry) this.#cache.delete(key);
    });
    return state;
  }

  /** Announce a change that concerns one agent only: other agents' cached tags stay valid. */
  agentChanged(agentId: string): void {
    this.agentsChanged([agentId]);
  }

  /** Announce a change that concerns these agents only (a rollout wave released to them), with one wake-up. */
  agentsChanged(agentIds: Iterable<string>): void {
    for (const id of agentIds) this.#agentEpochs.set(id, (this.#agentEpochs.get(id) ?? 0) + 1);
    this.#scoped += 1;
    this.#feed.notify();
  }

  /** Forget an agent entirely (soft-deleted): drops its cache entries and epoch. */
  forgetAgent(agentId: string): void {
    this.#cache.delete(`${agentId}:incremental`);
    this.#cache.delete(`${agentId}:full`);
    this.agentChanged(agentId);
  }

  get cached(): number {
    return this.#cache.size;
  }
}

/** Parse If-None-Match: `*`, or a list of (possibly weak) tags. */
export function parseIfNoneMatch(header: string | undefined): string[] | '*' | null {
  if (header === undefined) return null;
  // What agents send: one strong tag, nothing to trim or split (checked without allocating).
  const last = header.length - 1;
  if (last > 0 && header.charCodeAt(0) === 34 && header.indexOf('"', 1) === last && header.indexOf(',') === -1) return [header];
  const value = header.trim();
  if (value === '*') return '*';
  const tags = value
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .filter((t) => t.length > 0);
  return tags.length > 0 ? tags : null;
}

export function ifNoneMatchHit(condition: string[] | '*' | null, etag: string): boolean {
  if (condition === null) return false;
  return condition === '*' || condition.includes(etag);
}
