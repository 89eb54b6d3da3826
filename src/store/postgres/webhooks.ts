/** Outbound webhooks on PostgreSQL: subscriptions, the delivery queue shared by every replica, and the agent presence watch (see webhook-store.ts). */
import type { AuditContext } from '../audit.js';
import { ConflictError } from '../store.js';
import type {
  ClaimedDelivery,
  ClaimFairness,
  DeliveryOutcome,
  DeliveryQuery,
  DeliveryStatus,
  FinishedDelivery,
  NewWebhookSubscription,
  PresenceChange,
  WebhookDelivery,
  WebhookFormat,
  WebhookStore,
  WebhookSubscription,
  WebhookSubscriptionPatch,
} from '../webhook-store.js';
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
import { recordAudit } from './audit.js';
import { prepared, uuidParam, type PgDb, type Sql } from './pg-db.js';

const SUBSCRIPTION_COLUMNS =
  'id::text AS id, name, url, format, event_types, secret IS NOT NULL AS has_secret, enabled, filters, timeout_seconds, created_by, created_at, updated_at';
const DELIVERY_COLUMNS =
  'id::text AS id, subscription_id::text AS subscription_id, event_type, event_id, payload, status, acquired_by, acquired_until, attempts, last_attempt_at, next_retry_at, last_error, last_status_code, response_excerpt, created_at, completed_at';

/** Most queued agent events one statement turns into deliveries. */
const COLLECT_BATCH = 2000;

/**
 * Every agent event queued so far made into deliveries (migration 12's webhook_collect_agent_events):
 * what reads of the delivery log and changes to the subscriptions do first. Up to the queue's last
 * seq as it is now, so under a stream of reports it ends; waiting for collections in progress
 * elsewhere (their rows are gone once they commit, and their deliveries written).
 */
async function collectAllAgentEvents(sql: Sql): Promise<void> {
  const upto = (await sql.one<{ seq: string | null }>('SELECT max(seq)::text AS seq FROM webhook_event_queue'))?.seq ?? null;
  if (upto === null) return;
  while (await sql.one('SELECT 1 FROM webhook_event_queue WHERE seq <= $1 LIMIT 1', [upto])) {
    await sql.run('SELECT count(*) FROM webhook_collect_agent_events($1, true, $2)', [COLLECT_BATCH, upto]);
  }
}

type SubscriptionRow = Omit<WebhookSubscription, 'format' | 'filters'> & { format: string; filters: unknown };
const toSubscription = (row: SubscriptionRow): WebhookSubscription => ({ ...row, format: row.format as WebhookFormat, filters: storedFilters(row.filters) });

/** A claim: the deliveries one of migration 12's functions claimed, with their subscriptions. */
const claimed = (fn: string) =>
  prepared(`SELECT c.id::text AS id, c.subscription_id::text AS subscription_id, c.event_type, c.event_id, c.payload, c.attempts, c.created_at,
          s.url, s.secret, s.format, s.timeout_seconds
   FROM ${fn} c JOIN webhook_subscriptions s ON s.id = c.subscription_id
   WHERE c.status = 'acquired' ORDER BY c.created_at`);
const CLAIM_DUE = claimed('webhook_claim_due($1, $2, $3, $4::jsonb, $5)');
const CLAIM_COLLECTED = claimed('webhook_collect_agent_events($1, false, NULL, $2, $3, $4, $5, $6::jsonb)');

/*
 * Outcomes, one UPDATE for a batch ($1 the holder; $2… the outcomes, a column each). The rows are found by their keys
 * (`d.id = ANY($2)`, an index condition on the primary key) and only then checked: the planner estimates "claimed by $1"
 * at a row or two, and with the check as the only way in it read the whole table by the key's index and joined each row
 * to the batch — a cost that grew with every delivery ever written (BENCHMARKS F12, tenth pass). Given
 * `status = 'acquired'` as an index condition, it read every claimed row through the status index instead (54 µs a
 * delivery in a batch of 64 with 100 claimed, 22 µs by key); `(…) IS TRUE` means the same here (status is NOT NULL)
 * and is no index condition.
 */
const FINISH = prepared(`UPDATE webhook_deliveries d SET status = f.status, acquired_by = NULL, acquired_until = NULL,
    next_retry_at = coalesce(f.next_retry_at, d.next_retry_at), last_error = f.error, last_status_code = f.status_code, response_excerpt = f.excerpt,
    completed_at = CASE WHEN f.status = 'failed' THEN NULL ELSE now() END
  FROM unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::integer[], $7::text[]) AS f (id, status, next_retry_at, error, status_code, excerpt)
  WHERE d.id = ANY($2::uuid[]) AND d.id = f.id AND (d.status = 'acquired') IS TRUE AND d.acquired_by = $1`);

export class PostgresWebhooks implements WebhookStore {
  constructor(private readonly db: PgDb) {}

  async createSubscription(input: NewWebhookSubscription, audit?: AuditContext): Promise<WebhookSubscription> {
    return this.db.tx(async (sql) => {
      // Serialise creations by name (a unique violation would abort the transaction with a less useful error).
      await sql.run('SELECT pg_advisory_xact_lock(hashtext($1))', [`webhook:${input.name}`]);
      if (await sql.one('SELECT 1 FROM webhook_subscriptions WHERE name = $1', [input.name])) {
        throw new ConflictError(`a webhook subscription named '${input.name}' exists already`);
      }
      // Events queued before it are not its own (they meet the subscriptions as they were).
      await collectAllAgentEvents(sql);
      const row = await sql.one<SubscriptionRow>(
        `INSERT INTO webhook_subscriptions (name, url, secret, format, event_types, timeout_seconds, created_by, filters)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::jsonb) RETURNING ${SUBSCRIPTION_COLUMNS}`,
        [input.name, input.url, input.secret, input.format, JSON.stringify(input.event_types), input.timeout_seconds, input.created_by, filtersJson(input.filters)],
      );
      const created = toSubscription(row!);
      await recordAudit(sql, audit, { action: 'webhook.created', resource_type: 'webhook', resource_id: created.id, details: subscriptionAuditDetails(created) });
      return created;
    });
  }

  async listSubscriptions(): Promise<WebhookSubscription[]> {
    return (await this.db.rows<SubscriptionRow>(`SELECT ${SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions ORDER BY name COLLATE "C"`)).map(toSubscription);
  }

  async getSubscription(idOrName: string): Promise<WebhookSubscription | null> {
    const row = await this.db.one<SubscriptionRow>(
      `SELECT ${SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = $1 OR name = $2 ORDER BY id = $1 DESC NULLS LAST LIMIT 1`,
      [uuidParam(idOrName), idOrName],
    );
    return row ? toSubscription(row) : null;
  }

  async subscriptionSecret(id: string): Promise<string | null> {
    return (await this.db.one<{ secret: string | null }>('SELECT secret FROM webhook_subscriptions WHERE id = $1', [uuidParam(id)]))?.secret ?? null;
  }

  async updateSubscription(id: string, patch: WebhookSubscriptionPatch, audit?: AuditContext): Promise<WebhookSubscription | null> {
    const key = uuidParam(id);
    if (key === null) return null;
    return this.db.tx(async (sql) => {
      // Renames are serialised by name, as creations are.
      if (patch.name !== undefined) await sql.run('SELECT pg_advisory_xact_lock(hashtext($1))', [`webhook:${patch.name}`]);
      // Queued events first, before the row is locked: a collection elsewhere that writes this subscription's deliveries
      // needs a share of that lock, and this one could be waiting for that collection's queue rows.
      await collectAllAgentEvents(sql);
      const row = await sql.one<SubscriptionRow & { secret: string | null }>(`SELECT ${SUBSCRIPTION_COLUMNS}, secret FROM webhook_subscriptions WHERE id = $1 FOR UPDATE`, [key]);
      if (!row) return null;
      const { secret, ...rest } = row;
      const current = toSubscription(rest);
      const { columns, changed } = subscriptionChanges({ ...current, secret }, patch);
      if (changed.length === 0) return current;
      if (columns.name !== undefined && (await sql.one('SELECT 1 FROM webhook_subscriptions WHERE name = $1 AND id <> $2', [columns.name, key]))) {
        throw new ConflictError(`a webhook subscription named '${String(columns.name)}' exists already`);
      }
      const names = Object.keys(columns);
      const casts: Record<string, string> = { event_types: '::jsonb', filters: '::jsonb' };
      const updated = await sql.one<SubscriptionRow>(
        `UPDATE webhook_subscriptions SET ${names.map((n, i) => `${n} = $${i + 2}${casts[n] ?? ''}`).join(', ')} WHERE id = $1 RETURNING ${SUBSCRIPTION_COLUMNS}`,
        [key, ...names.map((n) => columns[n])],
      );
      const now = toSubscription(updated!);
      await recordAudit(sql, audit, { action: 'webhook.updated', resource_type: 'webhook', resource_id: now.id, details: updateAuditDetails(now, changed) });
      return now;
    });
  }

  async deleteSubscription(id: string, audit?: AuditContext): Promise<boolean> {
    const key = uuidParam(id);
    if (key === null) return false;
    return this.db.tx(async (sql) => {
      await collectAllAgentEvents(sql);
      const row = await sql.one<SubscriptionRow>(`DELETE FROM webhook_subscriptions WHERE id = $1 RETURNING ${SUBSCRIPTION_COLUMNS}`, [key]);
      if (!row) return false;
      await recordAudit(sql, audit, { action: 'webhook.deleted', resource_type: 'webhook', resource_id: row.id, details: subscriptionAuditDetails(toSubscription(row)) });
      return true;
    });
  }

  /**
   * What reads of the delivery log do first: write the deliveries of the agent events still queued,
   * so a report's delivery is listed as soon as the report is answered. A write only when the queue
   * has rows (events wait there while their subscriptions are at their limit in flight).
   */
  private async collectQueued(): Promise<void> {
    await collectAllAgentEvents(this.db);
  }

  async listDeliveries(subscriptionId: string, query: DeliveryQuery = {}): Promise<WebhookDelivery[]> {
    await this.collectQueued();
    const { limit, offset } = deliveryPage(query);
    return this.db.rows<WebhookDelivery>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE subscription_id = $1 AND ($2::text IS NULL OR status = $2)
       ORDER BY created_at DESC, id LIMIT $3 OFFSET $4`,
      [uuidParam(subscriptionId), query.status ?? null, limit, offset],
    );
  }

  async getDelivery(id: string): Promise<WebhookDelivery | null> {
    await this.collectQueued();
    return (await this.db.one<WebhookDelivery>(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1`, [uuidParam(id)])) ?? null;
  }

  /**
   * FOR UPDATE SKIP LOCKED: replicas claiming at the same moment each lock different rows, none
   * waits for another, and no row is claimed twice; times are the database's (no clock skew).
   * One statement claims deliveries already written and due (migration 12's webhook_claim_due);
   * then, with what is left of `limit`, one writes the deliveries of queued agent events and claims
   * them as it writes them, skipping events another replica is collecting, and taking no more events
   * than it has room for (the rest wait in the queue). Due rows first: retries are not starved by a
   * stream of new events.
   */
  async claimDeliveries(holder: string, limit: number, leaseMs: number, fairness?: ClaimFairness): Promise<ClaimedDelivery[]> {
    const { cap, busy } = fairnessParams(fairness);
    const due = await this.db.rows<ClaimedDelivery>(CLAIM_DUE, [holder, leaseMs, limit, busy, cap]);
    if (due.length >= limit) return due;
    // In flight now: what the caller had, and what the statement above just claimed.
    const inFlight = new Map(fairness?.busy);
    for (const d of due) inFlight.set(d.subscription_id, (inFlight.get(d.subscription_id) ?? 0) + 1);
    const fresh = await this.db.rows<ClaimedDelivery>(CLAIM_COLLECTED, [
      COLLECT_BATCH,
      holder,
      leaseMs,
      limit - due.length,
      cap,
      JSON.stringify(Object.fromEntries(inFlight)),
    ]);
    return [...due, ...fresh];
  }

  async finishDelivery(id: string, holder: string, outcome: DeliveryOutcome): Promise<boolean> {
    return (await this.finishDeliveries(holder, [{ id, outcome }])) > 0;
  }

  /** One UPDATE for the batch. */
  async finishDeliveries(holder: string, finished: readonly FinishedDelivery[]): Promise<number> {
    const rows = finished.flatMap(({ id, outcome }) => {
      const key = uuidParam(id);
      return key === null ? [] : [{ key, ...flattenOutcome(outcome) }];
    });
    if (rows.length === 0) return 0;
    const column = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
    return this.db.run(FINISH, [holder, column('key'), column('status'), column('next_retry_at'), column('error'), column('status_code'), column('response_excerpt')]);
  }

  async detectAgentPresence(offlineAfterMs: number): Promise<PresenceChange[]> {
    return this.db.tx(async (sql) => {
      const cutoff = `clock_timestamp() - $1 * interval '1 millisecond'`;
      // Replicas may run this at once: both see the same change, and the stable event id makes one delivery of it.
      const went = await sql.rows<PresenceRow>(
        `SELECT a.id::text AS id, a.name, a.cluster_name, a.last_heartbeat, p.last_heartbeat AS offline_heartbeat FROM agents a
         LEFT JOIN webhook_agent_presence p ON p.agent_id = a.id
         WHERE a.deleted_at IS NULL AND a.last_heartbeat IS NOT NULL AND a.last_heartbeat < ${cutoff} AND NOT coalesce(p.offline, FALSE)`,
        [offlineAfterMs],
      );
      const back = await sql.rows<PresenceRow>(
        `SELECT a.id::text AS id, a.name, a.cluster_name, a.last_heartbeat, p.last_heartbeat AS offline_heartbeat FROM webhook_agent_presence p
         JOIN agents a ON a.id = p.agent_id
         WHERE p.offline AND a.deleted_at IS NULL AND a.last_heartbeat >= ${cutoff}`,
        [offlineAfterMs],
      );
      const changes: PresenceChange[] = [];
      for (const [rows, type] of [[went, 'agent.offline'], [back, 'agent.online']] as const) {
        for (const a of rows) {
          const key = type === 'agent.offline' ? a.last_heartbeat : a.offline_heartbeat;
          const made = await sql.one<{ n: number }>('SELECT webhook_enqueue($1, $2, $3::jsonb) AS n', [type, `${type}:${a.id}:${key ?? ''}`, JSON.stringify(presenceData(a, offlineAfterMs))]);
          await sql.run(
            `INSERT INTO webhook_agent_presence (agent_id, offline, last_heartbeat, changed_at) VALUES ($1, $2, $3, now())
             ON CONFLICT (agent_id) DO UPDATE SET offline = excluded.offline, last_heartbeat = excluded.last_heartbeat, changed_at = excluded.changed_at`,
            [a.id, type === 'agent.offline', a.last_heartbeat],
          );
          changes.push({ agent_id: a.id, event_type: type, deliveries: made?.n ?? 0 });
        }
      }
      return changes;
    });
  }

  async pruneDeliveries(before: string): Promise<number> {
    return this.db.run("DELETE FROM webhook_deliveries WHERE status IN ('success', 'dead') AND created_at < $1", [before]);
  }

  async countDeliveries(): Promise<Record<DeliveryStatus, number>> {
    await this.collectQueued();
    return countsByStatus(await this.db.rows<{ status: DeliveryStatus; n: number }>('SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status'));
  }
}
