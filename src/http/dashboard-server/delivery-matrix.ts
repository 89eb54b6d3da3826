/** The stacks × agents delivery matrix: its shape, and how cells are assembled from target sets and latest events. */
import type { AgentEvent, StackDetail } from '../../store/store.js';

/** What one agent has done with one stack's latest object. Not associated = no cell (null). */
export const CELL_STATES = ['applied', 'failed', 'pending', 'deleting', 'deleted'] as const;
export type CellState = (typeof CELL_STATES)[number];

export interface MatrixCell {
  state: CellState;
  /** The FAILURE message (failed cells only). */
  message?: string | null;
  /** When the latest event for this object was reported, when there is one. */
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

/** GET /api/v1/dashboard/matrix: one page of rows; `total` counts the rows matching the filters. */
export interface MatrixPage extends DeliveryMatrix {
  total: number;
  offset: number;
  limit: number;
}

export interface MatrixInputs {
  stacks: StackDetail[];
  /** Sorted as the columns should be. */
  agents: MatrixAgent[];
  /** Per agent id: the ids of its full target state (latest object of every associated stack). */
  targets: Map<string, Set<string>>;
  /** Latest event of an (agent, object) pair. */
  latestEvent(agentId: string, objectId: string): AgentEvent | undefined;
}

/** Assemble the matrix; rows sorted by stack name. */
export function assembleMatrix({ stacks, agents, targets, latestEvent }: MatrixInputs, version: number): DeliveryMatrix {
  const counts: Record<CellState, number> = { applied: 0, failed: 0, pending: 0, deleting: 0, deleted: 0 };
  const rows: MatrixRow[] = [];
  for (const stack of stacks) {
    const latest = stack.latest_object;
    const cells = agents.map((agent): MatrixCell | null => {
      if (!latest || !targets.get(agent.id)?.has(latest.id)) return null;
      return cellFor(latest.is_deletion_marker, latestEvent(agent.id, latest.id));
    });
    // A deleted stack stays on the board only while some agent still has to deal with its marker.
    if (stack.deleted_at && !cells.some((c) => c && c.state !== 'deleted')) continue;
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

/**
 * One associated cell from the latest report for the object. Statuses are SUCCESS and FAILURE,
 * so "latest is SUCCESS" is the store's "reported SUCCESS" (incremental target state) unless a
 * later FAILURE followed, and a re-apply that broke after an earlier success is a failure now.
 */
export function cellFor(marker: boolean, event: AgentEvent | undefined): MatrixCell {
  if (event?.status === 'FAILURE') return { state: 'failed', message: event.message, at: event.created_at };
  if (event?.status === 'SUCCESS') return { state: marker ? 'deleted' : 'applied', at: event.created_at };
  return { state: marker ? 'deleting' : 'pending' };
}
