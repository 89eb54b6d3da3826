/** What changes a webhook subscription, written once for both engines: filters as stored, and the columns a patch changes. */
import type { WebhookFilters, WebhookSubscription, WebhookSubscriptionPatch } from './webhook-store.js';

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
