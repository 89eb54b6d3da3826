/** Outbound webhooks on SQLite: subscriptions, the delivery queue, and the agent presence watch (see webhook-store.ts). */
import { randomUUID } from 'node:crypto';
import type { AuditContext } from '../audit.js';
import { ConflictError } from '../store.js';
import {
  type ClaimedDelivery,
  type ClaimFairness,
  type DeliveryOutcome,
  type DeliveryQuery,
  type DeliveryStatus,
  type FinishedDelivery,
  type NewWebhookSubscription,
  type PresenceChange,
  type WebhookDelivery,
  type WebhookFormat,
  type WebhookStore,
  type WebhookSubscription,
  type WebhookSubscriptionPatch,
} from '../webhook-store.js';
import type { SqliteDb } from './connection.js';
import { FILTERS_ADMIT, MATCHES, agentEventDataSql, agentEventTypeSql, enqueueSql, keyedEventId, rememberEventSql } from './migrations/010-webhook-filters.js';
import {
  countsByStatus,
  deliveryPage,
  fairnessParams,
  filtersJson,
  flattenOutcome,
  presenceData,
  storedFilters,
  subscriptionAuditDetails,
  subscriptionChanges,
  updateAuditDetails,
  type PresenceRow,
} from '../webhook-rows.js';
import { nowIso } from './rows.js';
import { NOW_SQL, ORDERED_UUID_SQL, orderedUuidSql } from './sql-fragments.js';
import { recordAudit } from './audit.js';

const SUBSCRIPTION_COLUMNS = 'id, name, url, format, event_types, secret IS NOT NULL AS has_secret, enabled, filters, timeout_seconds, created_by, created_at, updated_at';
export const DELIVERY_COLUMNS =
  'id, subscription_id, event_type, event_id, payload, status, acquired_by, acquired_until, attempts, last_attempt_at, next_retry_at, last_error, last_status_code, response_excerpt, created_at, completed_at';

/** Most queued agent events one transaction turns into deliveries (a few ms of the write lock). */
const COLLECT_BATCH = 2000;

/**
 * The deliveries of queued agent events (migration 12), one per enabled subscription that wants the
 * event, admits it by its filters and existed when it happened; brokkr's envelope as the other
 * triggers write it. The event's own time is its timestamp, its delivery's creation, the time in
 * its id, and when it fell due (so the claim that collects it takes it, oldest first).
 * INSERT OR IGNORE: an event is one delivery per subscription however it was queued.
 */
const COLLECT_SQL = `INSERT OR IGNORE INTO webhook_deliveries (id, subscription_id, event_type, event_id, payload, created_at, next_retry_at)
  SELECT ${orderedUuidSql('e.at')}, s.id, e.t, e.eid, json_object('id', e.eid, 'event_type', e.t, 'timestamp', e.at, 'data', json(e.data)), e.at, e.at
  FROM (SELECT q.seq, ${agentEventTypeSql('ev')} AS t, ev.id AS eid, ev.created_at AS at, ${agentEventDataSql('ev')} AS data
        FROM webhook_event_queue q JOIN agent_events ev ON ev.id = q.agent_event_id WHERE q.seq <= @last) e
  JOIN webhook_subscriptions s ON s.enabled = 1 AND json_valid(s.event_types) AND ${MATCHES('e.t')} AND ${FILTERS_ADMIT('e.data')}
    AND s.created_at <= e.at
  ORDER BY e.seq`;

/**
 * Turn up to COLLECT_BATCH queued agent events into deliveries and take them off the queue. Runs
 * inside the caller's transaction, so an event leaves the queue only with its deliveries written.
 * How many queued events it took (0: the queue is empty).
 */
function collectAgentEvents(db: SqliteDb): number {
  const { last } = db.stmt<{ last: number | null }>('SELECT max(seq) AS last FROM (SELECT seq FROM webhook_event_queue ORDER BY seq LIMIT ?)').get(COLLECT_BATCH)!;
  if (last === null) return 0;
  db.stmt(COLLECT_SQL).run({ last });
  return db.stmt('DELETE FROM webhook_event_queue WHERE seq <= ?').run(last).changes;
}

/**
 * Every queued agent event made into deliveries, inside the caller's transaction. A change to the
 * subscriptions does this first, so queued events meet the subscriptions as they were when the
 * events happened (one disabled or deleted since still gets them, one created since does not).
 */
function collectAllAgentEvents(db: SqliteDb): void {
  while (collectAgentEvents(db) > 0);
}

type SubscriptionRow = Omit<WebhookSubscription, 'event_types' | 'has_secret' | 'enabled' | 'filters'> & { event_types: string; has_secret: number; enabled: number; filters: string | null };

function toSubscription(row: SubscriptionRow): WebhookSubscription {
  return {
    ...row,
    format: row.format as WebhookFormat,
    event_types: JSON.parse(row.event_types) as string[],
    has_secret: row.has_secret === 1,
    enabled: row.enabled === 1,
    filters: row.filters === null ? {} : storedFilters(JSON.parse(row.filters)),
  };
}

export class SqliteWebhooks implements WebhookStore {
  constructor(private readonly db: SqliteDb) {}

  async createSubscription(input: NewWebhookSubscription, audit?: AuditContext): Promise<WebhookSubscription> {
    const { db } = this;
    return db.tx(() => {
      if (db.stmt('SELECT 1 FROM webhook_subscriptions WHERE name = ?').get(input.name)) {
        throw new ConflictError(`a webhook subscription named '${input.name}' exists already`);
      }
      collectAllAgentEvents(db);
      const row = db
        .stmt<SubscriptionRow>(
          `INSERT INTO webhook_subscriptions (id, name, url, secret, format, event_types, timeout_seconds, created_by, filters)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${SUBSCRIPTION_COLUMNS}`,
        )
        .get(randomUUID(), input.name, input.url, input.secret, input.format, JSON.stringify(input.event_types), input.timeout_seconds, input.created_by, filtersJson(input.filters))!;
      const created = toSubscription(row);
      recordAudit(db, audit, { action: 'webhook.created', resource_type: 'webhook', resource_id: created.id, details: subscriptionAuditDetails(created) });
      return created;
    });
  }

  async listSubscriptions(): Promise<WebhookSubscription[]> {
    return this.db.stmt<SubscriptionRow>(`SELECT ${SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions ORDER BY name`).all().map(toSubscription);
  }

  async getSubscription(idOrName: string): Promise<WebhookSubscription | null> {
    const row = this.db.stmt<SubscriptionRow>(`SELECT ${SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1`).get(idOrName, idOrName, idOrName);
    return row ? toSubscription(row) : null;
  }

  async subscriptionSecret(id: string): Promise<string | null> {
    return this.db.stmt<{ secret: string | null }>('SELECT secret FROM webhook_subscriptions WHERE id = ?').get(id)?.secret ?? null;
  }

  async updateSubscription(id: string, patch: WebhookSubscriptionPatch, audit?: AuditContext): Promise<WebhookSubscription | null> {
    const { db } = this;
    return db.tx(() => {
      const row = db.stmt<SubscriptionRow & { secret: string | null }>(`SELECT ${SUBSCRIPTION_COLUMNS}, secret FROM webhook_subscriptions WHERE id = ?`).get(id);
      if (!row) return null;
      const { secret, ...rest } = row;
      const current = toSubscription(rest);
      const { columns, changed } = subscriptionChanges({ ...current, secret }, patch);
      if (changed.length === 0) return current;
      if (columns.name !== undefined && db.stmt('SELECT 1 FROM webhook_subscriptions WHERE name = ? AND id <> ?').get(columns.name, id)) {
        throw new ConflictError(`a webhook subscription named '${String(columns.name)}' exists already`);
      }
      if (columns.enabled !== undefined) columns.enabled = columns.enabled ? 1 : 0;
      collectAllAgentEvents(db);
      const names = Object.keys(columns);
      // updated_at set here rather than by the trigger, so the row read back below is final.
      db.stmt(`UPDATE webhook_subscriptions SET ${names.map((n) => `${n} = ?`).join(', ')}, updated_at = ${NOW_SQL} WHERE id = ?`).run(...names.map((n) => columns[n]), id);
      const updated = toSubscription(db.stmt<SubscriptionRow>(`SELECT ${SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = ?`).get(id)!);
      recordAudit(db, audit, { action: 'webhook.updated', resource_type: 'webhook', resource_id: id, details: updateAuditDetails(updated, changed) });
      return updated;
    });
  }

  async deleteSubscription(id: string, audit?: AuditContext): Promise<boolean> {
    const { db } = this;
    return db.tx(() => {
      const row = db.stmt<SubscriptionRow>(`SELECT ${SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = ?`).get(id);
      if (!row) return false;
      collectAllAgentEvents(db);
      db.stmt('DELETE FROM webhook_subscriptions WHERE id = ?').run(id);
      recordAudit(db, audit, { action: 'webhook.deleted', resource_type: 'webhook', resource_id: id, details: subscriptionAuditDetails(toSubscription(row)) });
      return true;
    });
  }

  /**
   * What reads of the delivery log do first: write the deliveries of the agent events still queued,
   * so a report's delivery is listed as soon as the report is answered. A write only when the queue
   * has rows (the delivery process keeps it near empty).
   */
  private collectQueued(): void {
    const { db } = this;
    if (db.stmt('SELECT 1 FROM webhook_event_queue LIMIT 1').get()) db.tx(() => collectAllAgentEvents(db));
  }

  async listDeliveries(subscriptionId: string, query: DeliveryQuery = {}): Promise<WebhookDelivery[]> {
    this.collectQueued();
    const { limit, offset } = deliveryPage(query);
    return this.db
      .stmt<WebhookDelivery>(
        `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE subscription_id = ? AND (? IS NULL OR status = ?)
         ORDER BY created_at DESC, id LIMIT ? OFFSET ?`,
      )
      .all(subscriptionId, query.status ?? null, query.status ?? null, limit, offset);
  }

  async getDelivery(id: string): Promise<WebhookDelivery | null> {
    this.collectQueued();
    return this.db.stmt<WebhookDelivery>(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?`).get(id) ?? null;
  }

  /**
   * One process owns a SQLite file, and better-sqlite3 runs this to completion: no other claim can
   * interleave. One UPDATE … RETURNING claims the whole batch; one read gets their subscriptions.
   */
  async claimDeliveries(holder: string, limit: number, leaseMs: number, fairness?: ClaimFairness): Promise<ClaimedDelivery[]> {
    const { db } = this;
    const now = nowIso();
    const until = new Date(Date.now() + leaseMs).toISOString();
    const { cap, busy } = fairnessParams(fairness);
    return db.tx(() => {
      // Queued agent events become deliveries first, due since their event: the statement below claims them.
      collectAgentEvents(db);
      const claimed = db
        .stmt<Omit<ClaimedDelivery, 'url' | 'secret' | 'format' | 'timeout_seconds'>>(
          // One index range per status (status, next_retry_at / acquired_until), each already in order: no sort of a backlog.
          // Subscriptions at their cap are skipped; the ranking keeps any one below it within this claim.
          `WITH busy (sid, n) AS (SELECT key, value FROM json_each(@busy)),
           full AS (SELECT sid FROM busy WHERE n >= @cap),
           candidates AS (
             SELECT * FROM (SELECT id, subscription_id, next_retry_at AS due FROM webhook_deliveries
               WHERE status = 'pending' AND next_retry_at <= @now AND subscription_id NOT IN full ORDER BY next_retry_at LIMIT @limit)
             UNION ALL
             SELECT * FROM (SELECT id, subscription_id, next_retry_at AS due FROM webhook_deliveries
               WHERE status = 'failed' AND next_retry_at <= @now AND subscription_id NOT IN full ORDER BY next_retry_at LIMIT @limit)
             UNION ALL
             SELECT * FROM (SELECT id, subscription_id, acquired_until AS due FROM webhook_deliveries
               WHERE status = 'acquired' AND acquired_until <= @now AND subscription_id NOT IN full ORDER BY acquired_until LIMIT @limit)),
           ranked AS (
             SELECT c.id, c.due, row_number() OVER (PARTITION BY c.subscription_id ORDER BY c.due) + coalesce(b.n, 0) AS k
             FROM candidates c LEFT JOIN busy b ON b.sid = c.subscription_id)
           UPDATE webhook_deliveries SET status = 'acquired', acquired_by = @holder, acquired_until = @until, attempts = attempts + 1, last_attempt_at = @now
           WHERE id IN (SELECT id FROM ranked WHERE k <= @cap ORDER BY due LIMIT @limit)
           RETURNING id, subscription_id, event_type, event_id, payload, attempts, created_at`,
        )
        .all({ now, until, holder, limit, cap, busy });
      if (claimed.length === 0) return [];
      const subs = new Map(
        db
          .stmt<{ id: string; url: string; secret: string | null; format: WebhookFormat; timeout_seconds: number }>(
            'SELECT id, url, secret, format, timeout_seconds FROM webhook_subscriptions WHERE id IN (SELECT value FROM json_each(?))',
          )
          .all(JSON.stringify([...new Set(claimed.map((d) => d.subscription_id))]))
          .map((r) => [r.id, r]),
      );
      return claimed
        .map((d) => {
          const { url, secret, format, timeout_seconds } = subs.get(d.subscription_id)!;
          return { ...d, url, secret, format, timeout_seconds };
        })
        .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
    });
  }

  async finishDelivery(id: string, holder: string, outcome: DeliveryOutcome): Promise<boolean> {
    return (await this.finishDeliveries(holder, [{ id, outcome }])) > 0;
  }

  async finishDeliveries(holder: string, finished: readonly FinishedDelivery[]): Promise<number> {
    const { db } = this;
    const mark = db.stmt(
      `UPDATE webhook_deliveries SET status = ?, acquired_by = NULL, acquired_until = NULL, next_retry_at = coalesce(?, next_retry_at),
         last_error = ?, last_status_code = ?, response_excerpt = ?, completed_at = ?
       WHERE id = ? AND status = 'acquired' AND acquired_by = ?`,
    );
    return db.tx(() => {
      const done = nowIso();
      let held = 0;
      for (const { id, outcome } of finished) {
        const o = flattenOutcome(outcome);
        held += mark.run(o.status, o.next_retry_at, o.error, o.status_code, o.response_excerpt, o.status === 'failed' ? null : done, id, holder).changes;
      }
      return held;
    });
  }

  async detectAgentPresence(offlineAfterMs: number): Promise<PresenceChange[]> {
    const { db } = this;
    const cutoff = new Date(Date.now() - offlineAfterMs).toISOString();
    // The key (agent, heartbeat) is what two noticings of one change share; it gets its UUID once (migration 10).
    const remember = db.stmt(rememberEventSql('?'));
    const enqueue = db.stmt(enqueueSql('?', keyedEventId('?'), '?', ORDERED_UUID_SQL));
    const mark = db.stmt(
      `INSERT INTO webhook_agent_presence (agent_id, offline, last_heartbeat, changed_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (agent_id) DO UPDATE SET offline = excluded.offline, last_heartbeat = excluded.last_heartbeat, changed_at = excluded.changed_at`,
    );
    return db.tx(() => {
      const changes: PresenceChange[] = [];
      const went = db
        .stmt<PresenceRow>(
          `SELECT a.id, a.name, a.cluster_name, a.last_heartbeat, p.last_heartbeat AS offline_heartbeat FROM agents a
           LEFT JOIN webhook_agent_presence p ON p.agent_id = a.id
           WHERE a.deleted_at IS NULL AND a.last_heartbeat IS NOT NULL AND a.last_heartbeat < ? AND coalesce(p.offline, 0) = 0`,
        )
        .all(cutoff);
      const back = db
        .stmt<PresenceRow>(
          `SELECT a.id, a.name, a.cluster_name, a.last_heartbeat, p.last_heartbeat AS offline_heartbeat FROM webhook_agent_presence p
           JOIN agents a ON a.id = p.agent_id
           WHERE p.offline = 1 AND a.deleted_at IS NULL AND a.last_heartbeat >= ?`,
        )
        .all(cutoff);
      for (const [rows, type] of [[went, 'agent.offline'], [back, 'agent.online']] as const) {
        for (const a of rows) {
          const key = type === 'agent.offline' ? a.last_heartbeat : a.offline_heartbeat;
          const data = presenceData(a, offlineAfterMs);
          const eventKey = `${type}:${a.id}:${key ?? ''}`;
          remember.run(eventKey);
          const deliveries = enqueue.run(type, eventKey, JSON.stringify(data)).changes;
          mark.run(a.id, type === 'agent.offline' ? 1 : 0, a.last_heartbeat, nowIso());
          changes.push({ agent_id: a.id, event_type: type, deliveries });
        }
      }
      return changes;
    });
  }

  async pruneDeliveries(before: string): Promise<number> {
    // Event keys go with the log they deduplicated (migration 10). One transaction: the write lock
    // is asked for once (the delivery process's connection does not wait in SQLite's busy handler).
    return this.db.tx(() => {
      this.db.stmt('DELETE FROM webhook_event_ids WHERE created_at < ?').run(before);
      return this.db.stmt("DELETE FROM webhook_deliveries WHERE status IN ('success', 'dead') AND created_at < ?").run(before).changes;
    });
  }

  async countDeliveries(): Promise<Record<DeliveryStatus, number>> {
    this.collectQueued();
    const rows = this.db.stmt<{ status: DeliveryStatus; n: number }>('SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status').all();
    return countsByStatus(rows);
  }
}
