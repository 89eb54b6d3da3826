/**
 * The audit log (SPEC §11): who changed what, from where, when. Records are append-only (a
 * trigger refuses UPDATE and DELETE on both engines) and written by the store IN THE SAME
 * TRANSACTION as the change they describe, so a change and its record commit or roll back
 * together. Column names follow brokkr's `audit_logs` table, plus `actor_name` (the operator).
 *
 * Every admin write method of the Store takes an optional trailing AuditContext: with one, the
 * write is recorded; without one (the syncer, the daemon loading its config), it is not.
 * Per-engine helpers append one row inside a caller's transaction: src/store/sqlite/audit.ts
 * (`recordAudit(db, ctx, entry)`) and src/store/postgres/audit.ts (`recordAudit(sql, ctx, entry)`).
 */

export const ACTOR_TYPES = ['admin', 'agent', 'generator', 'system'] as const;
/** brokkr's actor types; an operator (admin or readonly PAK) writes as 'admin'. */
export type ActorType = (typeof ACTOR_TYPES)[number];

/** Who is writing, built by the HTTP layer from the request's principal (operator name, client address, user agent). */
export interface AuditContext {
  actorType: ActorType;
  /** The operator's (or agent's, generator's) name; null for system actions. */
  actor: string | null;
  /** The operator's (agent's, generator's) id, when it has one. */
  actorId?: string | null;
  /** Client address; null when not over HTTP. */
  ip: string | null;
  userAgent?: string | null;
}

/** What one write did; `details` must never hold a PAK, hash, secret, password or token (redactDetails enforces it). */
export interface AuditEntry {
  /** `<resource>.<verb>`, e.g. 'agent.created', 'pak.rotated', 'rollout.paused'. */
  action: string;
  /** e.g. 'agent', 'stack', 'repository', 'operator', 'webhook'. */
  resource_type: string;
  resource_id: string | null;
  details?: Record<string, unknown> | null;
}

/** One row of audit_logs as the API returns it (brokkr's AuditLog fields plus actor_name and seq). */
export interface AuditLog {
  id: string;
  /** Strictly increasing in insertion order: the stable order and the paging cursor. */
  seq: number;
  timestamp: string;
  actor_type: ActorType;
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  details: Record<string, unknown> | null;
  ip_address: string | null;
  user_agent: string | null;
  created_at: string;
}

/** Filters (all optional, combined with AND) and paging; newest first. */
export interface AuditQuery {
  /** The actor's name (operator name), exact. */
  actor?: string;
  /** admin, agent, generator, system (brokkr's filter). */
  actorType?: string;
  /** The actor's id, exact (brokkr's filter). */
  actorId?: string;
  /** Exact action, or a prefix ending in '*' ('agent.*'). */
  action?: string;
  resourceType?: string;
  resourceId?: string;
  /** Rows at or after this instant (ISO-8601). */
  since?: string;
  /** Rows before this instant (ISO-8601). */
  until?: string;
  /** 1..1000, default 100. */
  limit?: number;
  /** Rows with seq below this (the previous page's next_cursor). */
  beforeSeq?: number;
  /** Rows to skip (brokkr's paging); ignored when beforeSeq is set. */
  offset?: number;
}

export interface AuditPage {
  logs: AuditLog[];
  /** Rows matching the filters (all pages). */
  total: number;
  /** The seq to pass as beforeSeq for the next page; null on the last page. */
  next_cursor: number | null;
}

export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 1000;

/** Keys whose values never enter an audit row, whatever the caller passes. */
const SECRET_KEY = /pak|secret|password|passwd|token|credential|hash|api[_-]?key|auth(orization)?$|private/i;

/**
 * A copy of details without any value under a secret-looking key (recursively), and with URLs'
 * user-info removed. Defence in depth: callers already pass only names and ids.
 */
export function redactDetails(details: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  if (!details) return null;
  return redactObject(details);
}

function redactObject(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_KEY.test(key)) continue;
    out[key] = redactValue(v);
  }
  return out;
}

function redactValue(v: unknown): unknown {
  // As src/git/redact-url.ts: everything up to the LAST @ before the host goes (a password may hold a raw @).
  if (typeof v === 'string') return v.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/]*@/gi, '$1');
  if (Array.isArray(v)) return v.map(redactValue);
  if (v && typeof v === 'object') return redactObject(v as Record<string, unknown>);
  return v;
}

/** The effective limit of a query: default 100, clamped to 1..1000. */
export function auditLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return AUDIT_DEFAULT_LIMIT;
  return Math.min(AUDIT_MAX_LIMIT, Math.max(1, Math.trunc(limit)));
}

/** An action filter as SQL LIKE pattern (prefix* → prefix%), with LIKE's own wildcards escaped ('\\'). */
export function actionPattern(action: string): string {
  const escaped = action.replace(/[\\%_]/g, (c) => `\\${c}`);
  return escaped.endsWith('*') ? `${escaped.slice(0, -1)}%` : escaped;
}
