/**
 * The daemon's webhook loop: claims due deliveries, sends them with bounded concurrency, records
 * each outcome; notices agents going offline and coming back; prunes old finished deliveries.
 *
 * Nothing else waits for it: deliveries are rows the database's triggers wrote with each change,
 * so syncing, agents and the API only ever write a row. It is woken by the store's change
 * notifications (debounced) and polls every `pollMs` for retries and for deliveries written
 * through another replica; when every slot is busy a wake-up costs nothing (no query).
 * With several replicas each runs one; a claim (lease) gives each delivery to one of them.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { ClaimedDelivery, DeliveryOutcome, WebhookStore } from '../store/webhook-store.js';
import { webhooksOf } from '../store/webhooks-of.js';
import { nextRetryAt, type RetryOptions } from './retry-policy.js';
import { sendAttempt, type AttemptResult } from './send-delivery.js';
import type { UrlPolicy } from './url-policy.js';

export interface WebhookWorkerOptions {
  /** The opened store (not a test wrapper). */
  store: Store;
  /** This replica's id: the claim holder. */
  holder: string;
  policy: UrlPolicy;
  logger: Logger;
  /** Deliveries in flight at once (default 8). */
  concurrency?: number;
  /** Poll for due deliveries this often (ms, default 1000). */
  pollMs?: number;
  retry?: RetryOptions;
  /** An agent without heartbeat this long is offline (ms, default 120 s). */
  offlineAfterMs?: number;
  /** Finished deliveries older than this are deleted (ms, default 7 days). */
  retentionMs?: number;
  /** Told the outcome of every attempt (metrics). */
  onAttempt?: (outcome: DeliveryOutcome['status']) => void;
}

export class DeliveryWorker {
  readonly #hooks: WebhookStore;
  readonly #o: Required<Omit<WebhookWorkerOptions, 'retry' | 'onAttempt'>> & Pick<WebhookWorkerOptions, 'onAttempt'> & { retry: RetryOptions };
  readonly #abort = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #timers: NodeJS.Timeout[] = [];
  #unsubscribe: (() => void) | null = null;
  #pumping = false;
  #again = false;
  #wake: NodeJS.Timeout | null = null;
  #stopped = false;
  /** Deliveries sent successfully by this worker (metrics, bench). */
  delivered = 0;

  constructor(options: WebhookWorkerOptions) {
    this.#o = { concurrency: 8, pollMs: 1000, retry: {}, offlineAfterMs: 120_000, retentionMs: 7 * 86_400_000, ...options };
    this.#hooks = webhooksOf(options.store);
  }

  start(): void {
    const { pollMs, offlineAfterMs } = this.#o;
    this.#unsubscribe = this.#o.store.onChange(() => this.#soon());
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
    this.#unsubscribe?.();
    for (const t of this.#timers) clearInterval(t);
    if (this.#wake) clearTimeout(this.#wake);
    this.#abort.abort();
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Pump within 20 ms: many changes in a burst make one claim. */
  #soon(): void {
    if (this.#stopped || this.#wake || this.#inFlight.size >= this.#o.concurrency) return;
    this.#wake = setTimeout(() => {
      this.#wake = null;
      void this.#pump();
    }, 20);
  }

  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        const free = this.#o.concurrency - this.#inFlight.size;
        if (this.#stopped || free <= 0) break;
        // The claim outlives the longest send (timeout ≤ 300 s) so no other replica takes it mid-send.
        const claimed = await this.#hooks.claimDeliveries(this.#o.holder, free, 330_000);
        for (const d of claimed) this.#run(d);
        if (claimed.length === free) this.#again = true;
      } while (this.#again);
    } catch (err) {
      this.#o.logger.warn({ err: (err as Error).message }, 'webhook deliveries could not be claimed; retrying on the next poll');
    } finally {
      this.#pumping = false;
    }
  }

  #run(d: ClaimedDelivery): void {
    const job = (async () => {
      const result = await sendAttempt(
        { delivery_id: d.id, event_type: d.event_type, event_id: d.event_id, payload: d.payload, url: d.url, secret: d.secret, format: d.format, timeout_seconds: d.timeout_seconds, attempt: d.attempts },
        this.#o.policy,
        this.#abort.signal,
      );
      const outcome = this.#outcome(d, result);
      try {
        await this.#hooks.finishDelivery(d.id, this.#o.holder, outcome);
      } catch (err) {
        // The claim runs out and the delivery is due again: at worst it is sent twice, never lost.
        this.#o.logger.warn({ delivery: d.id, err: (err as Error).message }, 'webhook delivery outcome could not be recorded');
      }
      this.#o.onAttempt?.(outcome.status);
      if (outcome.status === 'success') this.delivered++;
      else this.#o.logger[outcome.status === 'dead' ? 'warn' : 'info'](
        { delivery: d.id, subscription: d.subscription_id, event: d.event_type, attempt: d.attempts, status: outcome.status, error: outcome.error },
        outcome.status === 'dead' ? 'webhook delivery gave up' : 'webhook delivery failed; will retry',
      );
    })();
    this.#inFlight.add(job);
    void job.finally(() => {
      this.#inFlight.delete(job);
      this.#soon();
    });
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
