/** The stacks × agents delivery matrix, computed from Store reads only and cached per change-feed version. */
import type { ChangeFeed } from '../../change-feed.js';
import type { AgentEvent, StackDetail, Store } from '../../store/store.js';

/** What one agent has done with one stack's latest object. Not associated = no cell (null). */
export const CELL_STATES = ['applied', 'failed', 'pending', 'deleting', 'deleted'] as const;
export type CellState = (typeof CELL_STATES)[number];

export interface MatrixCell {
  state: CellState;
  /** The FAILURE message (failed cells only). */
  message?: string | null;
  /** When the latest event for this object was reported, when known. */
  at?: string;
}

export interface MatrixAgent {
  id: string;
  name: string;
  cluster_name: string;
  status: string;
}

export interface MatrixRow {
  stack: { id: string; name: string; deleted: boolean; sequence_id: number | null; is_deletion_marker: boolean };
  /** One entry per agent, in the order of `agents`; null = not associated. */
  cells: (MatrixCell | null)[];
}

export interface DeliveryMatrix {
  version: number;
  computed_at: string;
  agents: MatrixAgent[];
  rows: MatrixRow[];
  counts: Record<CellState, number>;
}

/**
 * Events are read per unacknowledged object (all agents at once), newest first. Agents that retry a
 * failing object on every poll can pile up many events for it; past this window the few agents
 * not seen in it are asked for individually, so the answer stays exact.
 */
const EVENT_WINDOW = 2_000;

/** Compute the whole matrix. Cost: 2 target-state reads per agent + 1 event read per unacknowledged latest object. */
export async function computeDeliveryMatrix(store: Store, version: number): Promise<DeliveryMatrix> {
  const [stacks, agentRows] = await Promise.all([store.listStacks({ includeDeleted: true }), store.listAgents()]);
  const agents = agentRows
    .map(({ id, name, cluster_name, status }) => ({ id, name, cluster_name, status }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.cluster_name.localeCompare(b.cluster_name));

  const stackByObject = new Map<string, StackDetail>();
  for (const s of stacks) if (s.latest_object) stackByObject.set(s.latest_object.id, s);

  // Per agent: which latest objects it should hold (full) and which it has not acknowledged yet.
  const targets: { full: Set<string>; open: Set<string> }[] = [];
  const openAgentsByObject = new Map<string, string[]>();
  for (const agent of agents) {
    const [full, incremental] = await Promise.all([
      store.targetStateIds(agent.id, 'full'),
      store.targetStateIds(agent.id, 'incremental'),
    ]);
    const open = new Set(incremental.map((e) => e.id));
    targets.push({ full: new Set(full.map((e) => e.id)), open });
    for (const id of open) {
      const list = openAgentsByObject.get(id);
      if (list) list.push(agent.id);
      else openAgentsByObject.set(id, [agent.id]);
    }
  }
  const latestEvents = await latestEventsFor(store, openAgentsByObject);

  const counts: Record<CellState, number> = { applied: 0, failed: 0, pending: 0, deleting: 0, deleted: 0 };
  const rows: MatrixRow[] = [];
  for (const stack of stacks) {
    const latest = stack.latest_object;
    const cells = agents.map((agent, i): MatrixCell | null => {
      if (!latest || !targets[i].full.has(latest.id)) return null;
      const event = latestEvents.get(`${agent.id} ${latest.id}`);
      return cellFor(latest.is_deletion_marker, targets[i].open.has(latest.id), event);
    });
    // A deleted stack stays on the board only while some agent still has to deal with its marker.
    const live = !stack.deleted_at || cells.some((c) => c && c.state !== 'deleted');
    if (!live) continue;
    for (const c of cells) if (c) counts[c.state] += 1;
    rows.push({
      stack: {
        id: stack.id,
        name: stack.name,
        deleted: stack.deleted_at !== null,
        sequence_id: latest?.sequence_id ?? null,
        is_deletion_marker: latest?.is_deletion_marker ?? false,
      },
      cells,
    });
  }
  rows.sort((a, b) => a.stack.name.localeCompare(b.stack.name) || Number(a.stack.deleted) - Number(b.stack.deleted));
  return { version, computed_at: new Date().toISOString(), agents, rows, counts };
}

/** The state of one associated cell from "acknowledged?" and the latest event for that object. */
function cellFor(marker: boolean, open: boolean, event: AgentEvent | undefined): MatrixCell {
  const at = event?.created_at;
  if (open && event?.status === 'FAILURE') return { state: 'failed', message: event.message, at };
  if (open) return { state: marker ? 'deleting' : 'pending', ...(at ? { at } : {}) };
  return { state: marker ? 'deleted' : 'applied', ...(at ? { at } : {}) };
}

/** Latest event per `agentId objectId` for the unacknowledged objects, newest created_at winning. */
async function latestEventsFor(store: Store, openAgentsByObject: Map<string, string[]>): Promise<Map<string, AgentEvent>> {
  const latest = new Map<string, AgentEvent>();
  const keep = (e: AgentEvent) => {
    const key = `${e.agent_id} ${e.deployment_object_id}`;
    const seen = latest.get(key);
    if (!seen || seen.created_at < e.created_at) latest.set(key, e);
  };
  for (const [objectId, agentIds] of openAgentsByObject) {
    const events = await store.listEvents({ deploymentObjectId: objectId, limit: EVENT_WINDOW });
    events.forEach(keep);
    if (events.length < EVENT_WINDOW) continue;
    for (const agentId of agentIds) {
      if (latest.has(`${agentId} ${objectId}`)) continue;
      (await store.listEvents({ agentId, deploymentObjectId: objectId, limit: 1 })).forEach(keep);
    }
  }
  return latest;
}

/**
 * Serves the matrix from a cache keyed by the feed version. Concurrent readers share one
 * computation. Not every write is guaranteed to bump the feed (an agent created by another
 * process sharing the database file), so an entry also expires after `maxAgeMs`.
 */
export class DeliveryMatrixCache {
  #current: { version: number; at: number; value: Promise<DeliveryMatrix> } | null = null;

  constructor(
    private readonly store: Store,
    private readonly feed: ChangeFeed,
    private readonly maxAgeMs = 10_000,
  ) {}

  get(now = Date.now()): Promise<DeliveryMatrix> {
    const version = this.feed.version;
    const hit = this.#current;
    if (hit && hit.version === version && now - hit.at < this.maxAgeMs) return hit.value;
    const value = computeDeliveryMatrix(this.store, version);
    const entry = { version, at: now, value };
    this.#current = entry;
    // A failed computation must not stick: the next reader retries.
    value.catch(() => {
      if (this.#current === entry) this.#current = null;
    });
    return value;
  }
}
