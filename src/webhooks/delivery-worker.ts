/**
 * The daemon's webhook loop: claims due deliveries, sends them with bounded concurrency, records
 * each outcome; notices agents going offline and coming back; prunes old finished deliveries.
 *
 * Throughput is slots ÷ receiver time (a 200 ms receiver and 512 slots: ~2,500/s), so slots are
 * many and cheap: deliveries are I/O, connections are kept alive per receiver host, claims take
 * up to CLAIM_BATCH rows in one statement and yield to the event loop between batches, outcomes
 * are written in batches (one transaction per FINISH_BATCH or per FINISH_DELAY_MS). A subscription
 * holds at most `perSubscription` slots, so a hanging receiver cannot stall the others.
 *
 * Nothing else waits for it: deliveries are rows the database's triggers wrote with each change,
 * so syncing, agents and the API only ever write a row. It is woken by `wake()` (the store's change
 * notifications, forwarded; debounced) and polls every `pollMs` for retries and for deliveries
 * written through another replica; when every slot is busy a wake-up costs nothing (no query).
 * With several replicas each runs one; a claim (lease) gives each delivery to one of them.
 * The daemon runs it in a process of its own (delivery-process.ts), beside the API, not on its loop.
 */
import { setMaxListeners } from 'node:events';
import type { ClaimedDelivery, DeliveryOutcome, FinishedDelivery, WebhookStore } from '../store/webhook-store.js';
import { nextRetryAt, type RetryOptions } from './retry-policy.js';
import { deliveryAgents, sendAttempt, type AttemptResult, type DeliveryAgents } from './send-delivery.js';
import type { UrlPolicy } from './url-policy.js';

/** What the worker logs through: pino's Logger, or the delivery process's forwarder to the daemon's logger. */
export interface WebhookLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface WebhookWorkerOptions {
  /** The delivery queue (the worker's own connection to the database). */
  hooks: WebhookStore;
  /** This replica's id: the claim holder. */
  holder: string;
  policy: UrlPolicy;
  logger: WebhookLog;
  /** Deliveries in flight at once (default 512). */
  concurrency?: number;
  /** Deliveries in flight at once to one subscription (default half of `concurrency`, at least 1). */
  perSubscription?: number;
  /** Poll for due deliveries this often (ms, default 1000). */
  pollMs?: number;
  retry?: RetryOptions;
  /** An agent without heartbeat this long is offline (ms, default 120 s). */
  offlineAfterMs?: number;
  /** Finished deliveries older than this are deleted (ms, default 7 days). */
  retentionMs?: number;
  /** Told the outcomes of each batch of attempts, before they are written (metrics). */
  onAttempts?: (outcomes: DeliveryOutcome['status'][]) => void;
}

export const DEFAULT_WEBHOOK_CONCURRENCY = 512;
/** Most rows one claim statement takes (then the worker yields to the event loop before the next). */
const CLAIM_BATCH = 64;
/**
 * Wake-ups are debounced this long. (Longer debounces and outcome batches — fewer commits on the
 * thread's own SQLite connection, so fewer waits for the write lock on the API's — were tried:
 * no difference to the API's CPU per event within noise, ~20 ms more lag; BENCHMARKS F12.)
 */
const CLAIM_DELAY_MS = 20;
/** Outcomes are written when this many are waiting, or this long after the first. */
const FINISH_BATCH = 128;
const FINISH_DELAY_MS = 25;

export class DeliveryWorker {
  readonly #hooks: WebhookStore;
  readonly #o: Required<Omit<WebhookWorkerOptions, 'retry' | 'onAttempts'>> & Pick<WebhookWorkerOptions, 'onAttempts'> & { retry: RetryOptions };
  readonly #abort = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  /** In flight per subscription id. */
  readonly #busy = new Map<string, number>();
  readonly #agents: DeliveryAgents = deliveryAgents();
  #finished: (FinishedDelivery & { d: ClaimedDelivery })[] = [];
  #flushTimer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];
  #pumping = false;
  /** The claims in progress (stop() waits for them: rows a claim took must be sent, or recorded as not sent). */
  #pumped: Promise<void> = Promise.resolve();
  #again = false;
  #wake: NodeJS.Timeout | null = null;
  #stopped = false;
  /** Deliveries sent successfully by this worker (metrics, bench). */
  delivered = 0;

  constructor(options: WebhookWorkerOptions) {
    const concurrency = options.concurrency ?? DEFAULT_WEBHOOK_CONCURRENCY;
    this.#o = {
      pollMs: 1000,
      retry: {},
      offlineAfterMs: 120_000,
      retentionMs: 7 * 86_400_000,
      ...options,
      concurrency,
      perSubscription: Math.min(concurrency, options.perSubscription ?? Math.max(1, Math.ceil(concurrency / 2))),
    };
    this.#hooks = options.hooks;
    // Every send in flight listens for the shutdown: up to `concurrency` listeners, not a leak.
    setMaxListeners(0, this.#abort.signal);
  }

  start(): void {
    const { pollMs, offlineAfterMs } = this.#o;
    this.#timers.push(setInterval(() => this.#soon(), pollMs).unref());
    const presenceEvery = Math.max(250, Math.min(15_000, offlineAfterMs / 4));
    this.#timers.push(setInterval(() => void this.#presence(), presenceEvery).unref());
    this.#timers.push(setInterval(() => void this.#prune(), 3_600_000).unref());
    this.#soon();
    void this.#prune();
  }

  /** Stop claiming; abort sends in flight (they are recorded as failed, due again at once) and wait for them. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    if (this.#wake) clearTimeout(this.#wake);
    this.#abort.abort();
    // A claim answered after this point still holds its rows: they start, see the abort, and are recorded below.
    await this.#pumped;
    await Promise.allSettled([...this.#inFlight]);
    await this.#flush();
    this.#agents.destroy();
  }

  /** Something changed in the database (deliveries may be due): claim soon. */
  wake(): void {
    this.#soon();
  }

  /** Pump within CLAIM_DELAY_MS: many changes in a burst make one claim. */
  #soon(): void {
    if (this.#stopped || this.#wake || this.#inFlight.size >= this.#o.concurrency) return;
    this.#wake = setTimeout(() => {
      this.#wake = null;
      void this.#pump();
    }, CLAIM_DELAY_MS);
  }

  #pump(): Promise<void> {
    if (this.#pumping) {
      this.#again = true;
      return this.#pumped;
    }
    this.#pumping = true;
    return (this.#pumped = this.#claimWhileRoom());
  }

  async #claimWhileRoom(): Promise<void> {
    try {
      const { perSubscription } = this.#o;
      const atCap = () => [...this.#busy.values()].filter((n) => n >= perSubscription).length;
      do {
        this.#again = false;
        const want = Math.min(CLAIM_BATCH, this.#o.concurrency - this.#inFlight.size);
        if (this.#stopped || want <= 0) break;
        const fullBefore = atCap();
        // The claim outlives the longest send (timeout ≤ 300 s) so no other replica takes it mid-send.
        const claimed = await this.#hooks.claimDeliveries(this.#o.holder, want, 330_000, { perSubscription, busy: this.#busy });
        for (const d of claimed) this.#run(d);
        // A full batch, or one cut short by a subscription reaching its cap (it is skipped next time): claim again.
        if (claimed.length === want || atCap() > fullBefore) {
          this.#again = true;
          await new Promise((resolve) => setImmediate(resolve));
        }
      } while (this.#again);
    } catch (err) {
      this.#o.logger.warn({ err: (err as Error).message }, 'webhook deliveries could not be claimed; retrying on the next poll');
    } finally {
      this.#pumping = false;
    }
  }

  #run(d: ClaimedDelivery): void {
    this.#busy.set(d.subscription_id, (this.#busy.get(d.subscription_id) ?? 0) + 1);
    const job = (async () => {
      const result = await sendAttempt(
        { delivery_id: d.id, event_type: d.event_type, event_id: d.event_id, payload: d.payload, url: d.url, secret: d.secret, format: d.format, timeout_seconds: d.timeout_seconds, attempt: d.attempts },
        this.#o.policy,
        this.#abort.signal,
        this.#agents,
      );
      this.#finished.push({ id: d.id, outcome: this.#outcome(d, result), d });
      if (this.#finished.length >= FINISH_BATCH) void this.#flush();
      else this.#flushTimer ??= setTimeout(() => void this.#flush(), FINISH_DELAY_MS);
    })();
    this.#inFlight.add(job);
    void job.finally(() => {
      this.#inFlight.delete(job);
      const n = (this.#busy.get(d.subscription_id) ?? 1) - 1;
      if (n > 0) this.#busy.set(d.subscription_id, n);
      else this.#busy.delete(d.subscription_id);
      this.#soon();
    });
  }

  /** Write the waiting outcomes in one transaction (the rows stay claimed by this replica until then). */
  #flush(): Promise<void> {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    const batch = this.#finished;
    this.#finished = [];
    if (batch.length === 0) return this.#flushing;
    for (const { d, outcome } of batch) {
      if (outcome.status === 'success') this.delivered++;
      else this.#o.logger[outcome.status === 'dead' ? 'warn' : 'info'](
        { delivery: d.id, subscription: d.subscription_id, event: d.event_type, attempt: d.attempts, status: outcome.status, error: outcome.error },
        outcome.status === 'dead' ? 'webhook delivery gave up' : 'webhook delivery failed; will retry',
      );
    }
    // Attempts are counted when they are made (metrics see them no later than the database does),
    // after their log lines: the delivery process sends both to the daemon in this order, so whoever sees
    // the count has the lines too.
    this.#o.onAttempts?.(batch.map((f) => f.outcome.status));
    this.#flushing = this.#flushing.then(async () => {
      try {
        await this.#hooks.finishDeliveries(this.#o.holder, batch);
      } catch (err) {
        // The claims run out and the deliveries are due again: at worst sent twice, never lost.
        this.#o.logger.warn({ deliveries: batch.length, err: (err as Error).message }, 'webhook delivery outcomes could not be recorded');
      }
    });
    return this.#flushing;
  }

  #outcome(d: ClaimedDelivery, r: AttemptResult): DeliveryOutcome {
    if (r.ok) return { status: 'success', status_code: r.status_code, response_excerpt: r.response_excerpt };
    // Shutting down mid-send is no fault of the receiver: due again at once, on whichever replica claims it.
    if (this.#abort.signal.aborted) return { status: 'failed', error: r.error, status_code: r.status_code, response_excerpt: r.response_excerpt, next_retry_at: new Date().toISOString() };
    const next = r.final ? null : nextRetryAt(d.attempts, d.created_at, Date.now(), this.#o.retry);
    if (next === null) {
      const why = r.final ? r.error : `${r.error} (gave up after ${d.attempts} attempts)`;
      return { status: 'dead', error: why, status_code: r.status_code, response_excerpt: r.response_excerpt };
    }
    return { status: 'failed', error: r.error, status_code: r.status_code, response_excerpt: r.response_excerpt, next_retry_at: next };
  }

  async #presence(): Promise<void> {
    try {
      const changes = await this.#hooks.detectAgentPresence(this.#o.offlineAfterMs);
      for (const c of changes) this.#o.logger.info({ agent: c.agent_id, deliveries: c.deliveries }, c.event_type);
      if (changes.some((c) => c.deliveries > 0)) this.#soon();
    } catch (err) {
      this.#o.logger.warn({ err: (err as Error).message }, 'agent presence could not be checked for webhooks');
    }
  }

  async #prune(): Promise<void> {
    try {
      await this.#hooks.pruneDeliveries(new Date(Date.now() - this.#o.retentionMs).toISOString());
    } catch {
      /* next hour */
    }
  }
}
