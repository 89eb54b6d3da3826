/**
 * Outbound webhooks as the store keeps them (SPEC §11): subscriptions, and the delivery queue the
 * database's triggers fill in the transaction of each change (on SQLite an agent event's
 * transaction only queues the event, and claims, delivery-log reads and subscription changes
 * write its deliveries first: migration 12). One implementation per engine
 * (sqlite/webhooks.ts, postgres/webhooks.ts), held to one contract suite (test/store/webhooks.test.ts).
 *
 * Queue rule: a worker CLAIMS due deliveries (status 'acquired', acquired_by, acquired_until) in
 * one statement that several replicas may run at once — each row goes to exactly one of them — and
 * FINISHES them only while it still holds the claim. A claim that runs out (a replica died
 * mid-send) makes the delivery due again.
 */
import type { AuditContext } from './audit.js';
import type { Uuid } from './records.js';

export const WEBHOOK_EVENT_TYPES = [
  'deployment.applied',
  'deployment.failed',
  'stack.invalid',
  'sync.failed',
  'rollout.halted',
  'rollout.completed',
  'agent.offline',
  'agent.online',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const WEBHOOK_FORMATS = ['json', 'slack'] as const;
/** json: brokkr's envelope {id, event_type, timestamp, data}; slack: `{text}` for a Slack incoming webhook. */
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

export const DELIVERY_STATUSES = ['pending', 'acquired', 'success', 'failed', 'dead'] as const;
/** pending: not tried yet; acquired: a worker is sending it; failed: waiting for its retry; success, dead: final. */
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** A subscription as the API shows it: never the secret, only whether there is one. */
export interface WebhookSubscription {
  id: Uuid;
  name: string;
  url: string;
  format: WebhookFormat;
  /** As given: exact types, `prefix.*` or `*`. */
  event_types: string[];
  has_secret: boolean;
  /** false: no new deliveries are written for it (those already queued are still sent, as brokkr does). */
  enabled: boolean;
  /** {} when none. */
  filters: WebhookFilters;
  timeout_seconds: number;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

/**
 * brokkr's payload filters: each field set must equal the same field of the event's `data`, and an
 * event that does not carry it (or carries null) does not match. Evaluated by the triggers that write deliveries.
 */
export interface WebhookFilters {
  agent_id?: string;
  stack_id?: string;
}

export interface NewWebhookSubscription {
  name: string;
  url: string;
  event_types: string[];
  secret: string | null;
  format: WebhookFormat;
  timeout_seconds: number;
  created_by: string | null;
  /** None when absent, null or {}. */
  filters?: WebhookFilters | null;
}

/** What an update changes; a field left out stays as it is. */
export interface WebhookSubscriptionPatch {
  name?: string;
  url?: string;
  event_types?: string[];
  /** A new signing secret; null removes it (deliveries go unsigned). */
  secret?: string | null;
  format?: WebhookFormat;
  timeout_seconds?: number;
  enabled?: boolean;
  /** Replaces the filters; null or {} removes them. */
  filters?: WebhookFilters | null;
}

/** One delivery of one event to one subscription (brokkr's WebhookDelivery plus the response's status and excerpt). */
export interface WebhookDelivery {
  id: Uuid;
  subscription_id: Uuid;
  event_type: string;
  /** Stable key of what happened: the same on every retry, and for every replica noticing it. */
  event_id: string;
  /** The JSON body (brokkr's envelope) as text. */
  payload: string;
  status: DeliveryStatus;
  acquired_by: string | null;
  acquired_until: string | null;
  attempts: number;
  last_attempt_at: string | null;
  next_retry_at: string | null;
  last_error: string | null;
  last_status_code: number | null;
  response_excerpt: string | null;
  created_at: string;
  completed_at: string | null;
}

/** A claimed delivery with what sending it takes (the secret stays inside the daemon). */
export interface ClaimedDelivery {
  id: Uuid;
  subscription_id: Uuid;
  event_type: string;
  event_id: string;
  payload: string;
  attempts: number;
  created_at: string;
  url: string;
  secret: string | null;
  format: WebhookFormat;
  timeout_seconds: number;
}

/** How one attempt ended. */
export type DeliveryOutcome =
  | { status: 'success'; status_code: number; response_excerpt: string | null }
  | { status: 'failed'; error: string; status_code: number | null; response_excerpt: string | null; next_retry_at: string }
  | { status: 'dead'; error: string; status_code: number | null; response_excerpt: string | null };

export interface DeliveryQuery {
  status?: DeliveryStatus;
  /** 1..1000, default 50. */
  limit?: number;
  offset?: number;
}

/**
 * Per-subscription cap of a claim: a subscription already holding `perSubscription` deliveries in
 * flight (`busy`, by subscription id) gets no more, and one claim gives none more than what it has
 * left — so a slow or hanging receiver cannot take every slot of a replica.
 */
export interface ClaimFairness {
  perSubscription: number;
  busy: ReadonlyMap<Uuid, number>;
}

export interface FinishedDelivery {
  id: Uuid;
  outcome: DeliveryOutcome;
}

/** An agent whose presence changed, as the offline watcher reports it. */
export interface PresenceChange {
  agent_id: Uuid;
  event_type: 'agent.offline' | 'agent.online';
  /** Deliveries written (0 when no subscription wants it, or another replica wrote them first). */
  deliveries: number;
}

export interface WebhookStore {
  /** ConflictError when the name is taken. */
  createSubscription(input: NewWebhookSubscription, audit?: AuditContext): Promise<WebhookSubscription>;
  listSubscriptions(): Promise<WebhookSubscription[]>;
  /** By id, or by name. */
  getSubscription(idOrName: string): Promise<WebhookSubscription | null>;
  /** The signing secret, for a send outside the queue (the test message); null when none. */
  subscriptionSecret(id: Uuid): Promise<string | null>;
  /**
   * Change a subscription in place, keeping its id and delivery log; audited in the same
   * transaction. Null when there is none; ConflictError when the new name is taken. A patch that
   * changes nothing writes nothing (no audit row). Queued deliveries are sent with what the
   * subscription says when they are claimed (new URL, new secret), and still sent once it is disabled.
   */
  updateSubscription(id: Uuid, patch: WebhookSubscriptionPatch, audit?: AuditContext): Promise<WebhookSubscription | null>;
  /** Its deliveries go with it; false when there was none. */
  deleteSubscription(id: Uuid, audit?: AuditContext): Promise<boolean>;
  /** Newest first. */
  listDeliveries(subscriptionId: Uuid, query?: DeliveryQuery): Promise<WebhookDelivery[]>;
  getDelivery(id: Uuid): Promise<WebhookDelivery | null>;
  /**
   * Claim up to `limit` due deliveries for `holder` until now + leaseMs (database clock on
   * PostgreSQL): pending and failed ones whose next_retry_at has come, and acquired ones whose
   * claim ran out. Each claim counts an attempt. Oldest due first.
   */
  claimDeliveries(holder: string, limit: number, leaseMs: number, fairness?: ClaimFairness): Promise<ClaimedDelivery[]>;
  /** Record an attempt's outcome; false (nothing written) when holder no longer holds the claim. */
  finishDelivery(id: Uuid, holder: string, outcome: DeliveryOutcome): Promise<boolean>;
  /** finishDelivery for many, in one transaction (one statement on PostgreSQL); how many were still held. */
  finishDeliveries(holder: string, finished: readonly FinishedDelivery[]): Promise<number>;
  /**
   * agent.offline for live agents whose last heartbeat is older than offlineAfterMs and that were
   * not reported offline yet; agent.online for those reported offline that heartbeat again. One
   * transaction; safe to run on every replica at once (event ids are stable).
   */
  detectAgentPresence(offlineAfterMs: number): Promise<PresenceChange[]>;
  /** Delete final (success, dead) deliveries created before `before` (ISO); how many went. */
  pruneDeliveries(before: string): Promise<number>;
  /** Count of deliveries by status (metrics, bench). */
  countDeliveries(): Promise<Record<DeliveryStatus, number>>;
}
