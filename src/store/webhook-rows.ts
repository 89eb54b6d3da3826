/**
 * What both engines' webhook code shares (sqlite/webhooks.ts, postgres/webhooks.ts): filters as
 * stored, the columns a patch changes, audit details, paging, claim fairness and outcome columns.
 */
import {
  DELIVERY_STATUSES,
  type ClaimFairness,
  type DeliveryOutcome,
  type DeliveryQuery,
  type DeliveryStatus,
  type WebhookFilters,
  type WebhookSubscription,
  type WebhookSubscriptionPatch,
} from './webhook-store.js';

/** Filters as stored: only agent_id and stack_id, in lower case; null when none is set (brokkr: absent, null and {} match everything). */
export function filtersJson(f: WebhookFilters | null | undefined): string | null {
  const kept = storedFilters(f);
  return Object.keys(kept).length === 0 ? null : JSON.stringify(kept);
}

/** The known, set fields of a filters value (a row written by another client may carry others: they are not evaluated, so not shown). */
export function storedFilters(f: unknown): WebhookFilters {
  const out: WebhookFilters = {};
  if (f === null || typeof f !== 'object') return out;
  for (const key of ['agent_id', 'stack_id'] as const) {
    const v = (f as Record<string, unknown>)[key];
    if (typeof v === 'string' && v !== '') out[key] = v.toLowerCase();
  }
  return out;
}

/**
 * The columns a patch changes (with their new values) and the names of what changed; nothing for
 * a field equal to what is stored. `current` carries the stored secret.
 */
export function subscriptionChanges(current: WebhookSubscription & { secret: string | null }, patch: WebhookSubscriptionPatch): { columns: Record<string, unknown>; changed: string[] } {
  const columns: Record<string, unknown> = {};
  const changed: string[] = [];
  const set = (field: string, column: string, value: unknown, differs: boolean) => {
    if (!differs) return;
    columns[column] = value;
    changed.push(field);
  };
  if (patch.name !== undefined) set('name', 'name', patch.name, patch.name !== current.name);
  if (patch.url !== undefined) set('url', 'url', patch.url, patch.url !== current.url);
  if (patch.event_types !== undefined) set('event_types', 'event_types', JSON.stringify(patch.event_types), JSON.stringify(patch.event_types) !== JSON.stringify(current.event_types));
  if (patch.secret !== undefined) set('secret', 'secret', patch.secret, patch.secret !== current.secret);
  if (patch.format !== undefined) set('format', 'format', patch.format, patch.format !== current.format);
  if (patch.timeout_seconds !== undefined) set('timeout_seconds', 'timeout_seconds', patch.timeout_seconds, patch.timeout_seconds !== current.timeout_seconds);
  if (patch.enabled !== undefined) set('enabled', 'enabled', patch.enabled, patch.enabled !== current.enabled);
  if (patch.filters !== undefined) {
    const next = filtersJson(patch.filters);
    set('filters', 'filters', next, next !== filtersJson(current.filters));
  }
  return { columns, changed };
}

/** The audit details of an update: what the subscription is now (as on create, never the secret) and which fields changed. */
export function updateAuditDetails(s: WebhookSubscription, changed: string[]): Record<string, unknown> {
  return { ...subscriptionAuditDetails(s), enabled: s.enabled, filters: s.filters, changed };
}

/** Default and largest page of a delivery list. */
export function deliveryPage(query: DeliveryQuery): { limit: number; offset: number } {
  const limit = Math.min(1000, Math.max(1, Math.trunc(query.limit ?? 50)));
  return { limit, offset: Math.max(0, Math.trunc(query.offset ?? 0)) };
}

/** The audit details of a subscription: never its secret, and its URL without path or query (a Slack URL's path is a token). */
export function subscriptionAuditDetails(s: WebhookSubscription): Record<string, unknown> {
  let host = '';
  try {
    host = new URL(s.url).host;
  } catch {
    /* stored URLs were checked on the way in */
  }
  return { name: s.name, host, format: s.format, event_types: s.event_types, signed: s.has_secret };
}

export interface PresenceRow {
  id: string;
  name: string;
  cluster_name: string;
  last_heartbeat: string | null;
  offline_heartbeat: string | null;
}

/** The `data` of agent.offline / agent.online. */
export function presenceData(a: PresenceRow, offlineAfterMs: number): Record<string, unknown> {
  return { agent_id: a.id, agent_name: a.name, cluster_name: a.cluster_name, last_heartbeat: a.last_heartbeat, offline_after_seconds: Math.round(offlineAfterMs / 1000) };
}

/** Every status present, zeros included. */
export function countsByStatus(rows: readonly { status: DeliveryStatus; n: number }[]): Record<DeliveryStatus, number> {
  const out = Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, 0])) as Record<DeliveryStatus, number>;
  for (const r of rows) out[r.status] = Number(r.n);
  return out;
}

/**
 * Text as a column can hold it on both engines: a receiver's answer may carry NUL characters, which
 * PostgreSQL's text refuses (and with them the whole batch of outcomes); each becomes U+FFFD, as
 * bytes that are not UTF-8 already do.
 */
const storable = (text: string | null): string | null => (text === null ? null : text.replaceAll('\0', '\uFFFD'));

/** An outcome as the columns it sets. */
export function flattenOutcome(o: DeliveryOutcome): {
  status: DeliveryOutcome['status'];
  error: string | null;
  status_code: number | null;
  response_excerpt: string | null;
  next_retry_at: string | null;
} {
  return {
    status: o.status,
    error: o.status === 'success' ? null : storable(o.error),
    status_code: o.status_code,
    response_excerpt: storable(o.response_excerpt),
    next_retry_at: o.status === 'failed' ? o.next_retry_at : null,
  };
}

/** A claim's cap and busy counts as query parameters (no fairness: no cap). */
export function fairnessParams(f: ClaimFairness | undefined): { cap: number; busy: string } {
  if (!f) return { cap: 1_000_000_000, busy: '{}' };
  return { cap: Math.max(1, Math.trunc(f.perSubscription)), busy: JSON.stringify(Object.fromEntries([...f.busy].filter(([, n]) => n > 0))) };
}
