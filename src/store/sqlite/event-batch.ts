/**
 * Group commit of agent events (issue 15 item 4, BENCHMARKS F12): the event reports that reach the
 * store in one turn of the event loop are written in ONE transaction, each in a savepoint of its
 * own, and each caller is answered after that transaction committed — so an answered report is as
 * durable as before, and one that fails (its agent or object gone) fails alone, rolled back to its
 * savepoint, as it would have in a transaction of its own.
 *
 * Why: on SQLite a commit writes every page the transaction touched to the WAL, and an event touches
 * the same few pages as the one before it (the right edge of agent_events and its seven indexes),
 * so N events in one commit write those pages once instead of N times (and reach the WAL's
 * auto-checkpoint N times less often). Under a steady load many reports arrive in one turn; a lone
 * report waits only for the end of the current turn (`setImmediate`).
 *
 * The batch never blocks the event loop on SQLite's write lock: while another connection holds it
 * (the webhook delivery process's claims and outcomes, `db migrate`, another daemon) SQLite's busy
 * handler would sleep the whole daemon in growing steps of up to 100 ms. Instead the batch asks for
 * the lock without waiting (`busy_timeout` 0 for its BEGIN) and tries again 1 ms later, the API
 * serving in between and later reports joining the batch; after the connection's own busy timeout
 * (5 s) it fails with SQLITE_BUSY as a blocking write would have.
 */
import type { AgentEvent } from '../records.js';
import type { RolloutOutcome } from '../rollout-outcome.js';
import type { SqliteDb } from './connection.js';
import { createEvent } from './events.js';

export type EventInput = Parameters<typeof createEvent>[1];
type Written = AgentEvent & { rolloutChanged?: RolloutOutcome };
interface Waiting {
  input: EventInput;
  resolve: (event: Written) => void;
  reject: (err: unknown) => void;
}

export class EventBatch {
  #waiting: Waiting[] = [];
  #scheduled: NodeJS.Immediate | null = null;
  #retry: NodeJS.Timeout | null = null;
  #busySince: number | null = null;
  readonly #busyMs: number;

  constructor(private readonly db: SqliteDb) {
    this.#busyMs = Number(db.raw.pragma('busy_timeout', { simple: true }));
  }

  /** Resolves with the event once the transaction holding it committed. */
  add(input: EventInput): Promise<Written> {
    return new Promise<Written>((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      if (!this.#scheduled && !this.#retry) this.#scheduled = setImmediate(() => this.flush());
    });
  }

  /**
   * Write what waits now. `wait`: block on the write lock like any other write (the store calls it
   * before closing the connection); otherwise a busy lock is tried again on a timer.
   */
  flush(wait = false): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    if (this.#retry) clearTimeout(this.#retry);
    this.#scheduled = this.#retry = null;
    const batch = this.#waiting;
    if (batch.length === 0) return;
    let outcomes: ({ event: Written } | { error: unknown })[];
    try {
      outcomes = this.#write(batch, wait);
    } catch (err) {
      const now = Date.now();
      if (!wait && (err as { code?: string }).code === 'SQLITE_BUSY' && now - (this.#busySince ??= now) < this.#busyMs) {
        this.#retry = setTimeout(() => this.flush(), 1); // nothing was written: the batch stays, and grows
        return;
      }
      this.#done();
      for (const w of batch) w.reject(err);
      return;
    }
    this.#done();
    outcomes.forEach((o, i) => ('event' in o ? batch[i]!.resolve(o.event) : batch[i]!.reject(o.error)));
  }

  #done(): void {
    this.#waiting = [];
    this.#busySince = null;
  }

  #write(batch: Waiting[], wait: boolean): ({ event: Written } | { error: unknown })[] {
    if (!wait) this.db.stmt('PRAGMA busy_timeout = 0').get();
    try {
      return this.db.tx(() =>
        batch.map(({ input }) => {
          try {
            return { event: createEvent(this.db, input) }; // its own savepoint (a nested tx)
          } catch (error) {
            // SQLite rolled the whole transaction back (I/O error, full disk): nothing of the batch
            // stays; fail them all rather than write the rest outside a transaction.
            if (!this.db.raw.inTransaction) throw error;
            return { error };
          }
        }),
      );
    } finally {
      if (!wait) this.db.stmt(`PRAGMA busy_timeout = ${this.#busyMs}`).get();
    }
  }
}
