/**
 * Keeps the delivery matrix current cheaply, from Store reads only.
 *
 * A full computation at 1,000 stacks × 100 agents costs one fleet-wide target-state read and one
 * event read per latest object. Most changes are agent events, which touch neither, so:
 * - target sets are reused while a fingerprint of their inputs (stacks with their latest object,
 *   labels and annotations; agents with theirs and their targets) is unchanged;
 * - latest events are kept per object and updated from the newest events since the last run
 *   (one `listEvents({limit})` read); a gap larger than that window reloads them.
 * Everything is rebuilt from scratch every `fullReloadMs`, which bounds any drift (a clock that
 * stepped back can order a new event behind the remembered one).
 * Results are cached per change-feed version; runs are serialized because they share state.
 */
import { createHash } from 'node:crypto';
import type { ChangeFeed } from '../../change-feed.js';
import type { AgentEvent, StackDetail, Store } from '../../store/store.js';
import { assembleMatrix, type DeliveryMatrix, type MatrixAgent } from './delivery-matrix.js';

/** Newest events read per run to catch up; more new events than this reloads every object's events. */
const DELTA_WINDOW = 1_000;
/**
 * Events read per object. Agents that retry a failing object on every poll can pile up many
 * events for it; agents not seen in the window are asked for individually, so it stays exact.
 */
const OBJECT_WINDOW = 2_000;

export interface MatrixSourceOptions {
  /** Recompute after this long even without a feed change (writers outside this process). */
  maxAgeMs?: number;
  fullReloadMs?: number;
}

type LatestByAgent = Map<string, AgentEvent>;

/** Keep `e` when it is at least as new as what is there (callers feed events oldest first). */
function keepNewer(map: LatestByAgent, e: AgentEvent): void {
  const seen = map.get(e.agent_id);
  if (!seen || seen.created_at <= e.created_at) map.set(e.agent_id, e);
}

export class MatrixSource {
  readonly #store: Store;
  readonly #feed: ChangeFeed;
  readonly #maxAgeMs: number;
  readonly #fullReloadMs: number;
  #cached: { version: number; at: number; value: Promise<DeliveryMatrix> } | null = null;
  #chain: Promise<unknown> = Promise.resolve();
  #lastFullAt = -Infinity;
  #fingerprint: string | null = null;
  #targets = new Map<string, Set<string>>();
  #events = new Map<string, LatestByAgent>();
  /** Objects whose events overflowed OBJECT_WINDOW: their maps hold only the agents associated at load time. */
  #partial = new Set<string>();
  /** Newest event seen by the last run; null = there were none; undefined = not loaded yet. */
  #marker: AgentEvent | null | undefined = undefined;

  constructor(store: Store, feed: ChangeFeed, { maxAgeMs = 10_000, fullReloadMs = 60_000 }: MatrixSourceOptions = {}) {
    this.#store = store;
    this.#feed = feed;
    this.#maxAgeMs = maxAgeMs;
    this.#fullReloadMs = fullReloadMs;
  }

  /** The matrix for the current feed version; concurrent callers share one run. */
  get(now = Date.now()): Promise<DeliveryMatrix> {
    // The version is read BEFORE computing: a change during the run bumps it, so the next call recomputes.
    const version = this.#feed.version;
    const hit = this.#cached;
    if (hit && hit.version === version && now - hit.at < this.#maxAgeMs) return hit.value;
    const value = this.#chain.then(() => this.#compute(version));
    this.#chain = value.catch(() => undefined);
    const entry = { version, at: now, value };
    this.#cached = entry;
    value.catch(() => {
      if (this.#cached === entry) this.#cached = null;
      this.#reset();
    });
    return value;
  }

  #reset(): void {
    this.#lastFullAt = -Infinity;
  }

  async #compute(version: number): Promise<DeliveryMatrix> {
    const store = this.#store;
    const now = Date.now();
    if (now - this.#lastFullAt >= this.#fullReloadMs) {
      this.#fingerprint = null;
      this.#events.clear();
      this.#partial.clear();
      this.#marker = undefined;
      this.#lastFullAt = now;
    }
    // Read first: anything reported after this read is newer than the marker and caught next run.
    const recent = await store.listEvents({ limit: DELTA_WINDOW });
    const [stacks, agentRows] = await Promise.all([store.listStacks({ includeDeleted: true }), store.listAgents()]);
    const agents: MatrixAgent[] = agentRows
      .map(({ id, name, cluster_name, status }) => ({ id, name, cluster_name, status }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.cluster_name.localeCompare(b.cluster_name));

    const fingerprint = await this.#fingerprintOf(stacks, agents);
    if (fingerprint !== this.#fingerprint) {
      // One query for the whole fleet (was one target-state query per agent).
      const states = await store.fullTargetStates();
      this.#targets = new Map(agents.map((agent) => [agent.id, new Set((states.get(agent.id) ?? []).map((e) => e.id))]));
      this.#fingerprint = fingerprint;
      for (const id of this.#partial) this.#events.delete(id);
      this.#partial.clear();
    }
    this.#catchUp(recent);

    const agentsByObject = new Map<string, string[]>();
    for (const [agentId, ids] of this.#targets) {
      for (const id of ids) {
        const list = agentsByObject.get(id);
        if (list) list.push(agentId);
        else agentsByObject.set(id, [agentId]);
      }
    }
    for (const id of this.#events.keys()) {
      if (agentsByObject.has(id)) continue;
      this.#events.delete(id);
      this.#partial.delete(id);
    }
    for (const [objectId, agentIds] of agentsByObject) {
      if (!this.#events.has(objectId)) this.#events.set(objectId, await this.#loadObject(objectId, agentIds));
    }
    const events = this.#events;
    return assembleMatrix({ stacks, agents, targets: this.#targets, latestEvent: (a, o) => events.get(o)?.get(a) }, version);
  }

  /** Fold the events reported since the last run into the per-object maps (or drop them all if there is a gap). */
  #catchUp(recent: AgentEvent[]): void {
    const marker = this.#marker;
    this.#marker = recent[0] ?? null;
    if (marker === undefined) return;
    const at = marker === null ? recent.length : recent.findIndex((e) => e.id === marker.id);
    const gap = at < 0 || (marker === null && recent.length === DELTA_WINDOW);
    if (gap) {
      this.#events.clear();
      this.#partial.clear();
      return;
    }
    for (let i = at - 1; i >= 0; i--) {
      const e = recent[i];
      const map = this.#events.get(e.deployment_object_id);
      if (map) keepNewer(map, e);
    }
  }

  async #loadObject(objectId: string, agentIds: string[]): Promise<LatestByAgent> {
    const map: LatestByAgent = new Map();
    const events = await this.#store.listEvents({ deploymentObjectId: objectId, limit: OBJECT_WINDOW });
    for (let i = events.length - 1; i >= 0; i--) keepNewer(map, events[i]);
    if (events.length === OBJECT_WINDOW) {
      this.#partial.add(objectId);
      for (const agentId of agentIds) {
        if (map.has(agentId)) continue;
        const [latest] = await this.#store.listEvents({ agentId, deploymentObjectId: objectId, limit: 1 });
        if (latest) map.set(agentId, latest);
      }
    }
    return map;
  }

  /** A hash of everything association depends on; equal hashes ⇒ equal target sets. */
  async #fingerprintOf(stacks: StackDetail[], agents: MatrixAgent[]): Promise<string> {
    const h = createHash('sha256');
    for (const s of stacks) {
      h.update(JSON.stringify([s.id, s.deleted_at, s.latest_object?.id ?? null, s.labels, s.annotations]));
    }
    // Three queries for the whole fleet (were three per agent).
    const inputs = new Map((await this.#store.agentAssociationInputs()).map((i) => [i.agent_id, i]));
    for (const a of agents) {
      const i = inputs.get(a.id);
      h.update(JSON.stringify([a.id, i?.labels ?? [], Object.entries(i?.annotations ?? {}).sort(), i?.targets ?? []]));
    }
    return h.digest('base64url');
  }
}
