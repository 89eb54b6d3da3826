/**
 * Group commit of agent events on PostgreSQL, as sqlite/event-batch.ts does on SQLite (issue 15
 * item 4, BENCHMARKS F12 scenario 12b): the reports that reach the store in one turn of the event
 * loop are written in ONE transaction, and each caller is answered after it committed, so an
 * answered report is as durable as before. One event alone in its transaction cost five round
 * trips to the server (BEGIN, the insert, the rollout's row, the change notification, COMMIT) and
 * a commit; at 1,000 reports a second those round trips were the API thread's work and the
 * daemon fell behind. A batch costs one, however many events it holds: without a rollout on its
 * objects it is a single statement that commits by itself (the store's writeAll); with one, the
 * transaction as before.
 *
 * An event whose agent or object does not exist fails alone (NotFoundError), as does one on an
 * object of a stack its agent does not hold (NotAssociatedError), as it would in a transaction of
 * its own. A value the database refuses rolls the whole batch back; then each of
 * its events is written again in a transaction of its own, so one bad report cannot fail the
 * others. Any other failure (the server unreachable) fails every event of the batch.
 *
 * At most MAX_IN_FLIGHT batches are written at once, each on a pool connection of its own; reports
 * that arrive meanwhile gather into the next batch, written as soon as one finishes. Under load a
 * batch thus holds whatever arrived during the round trips of the one before (a batch formed every
 * turn of the event loop would hold one or two reports and cost as many round trips as before).
 */
import type { EventInput, EventOutcome, WrittenEvent as Written } from './events.js';
interface Waiting {
  input: EventInput;
  resolve: (event: Written) => void;
  reject: (err: unknown) => void;
}

/** Batches written at once (the pool has 10 connections, which polls, reads and syncs share). */
const MAX_IN_FLIGHT = 2;

export class PgEventBatch {
  #waiting: Waiting[] = [];
  #scheduled: NodeJS.Immediate | null = null;
  readonly #inFlight = new Set<Promise<void>>();

  /**
   * `writeAll`: the events in one transaction, an outcome per event in order.
   * `writeOne`: one event in a transaction of its own (after a batch failed).
   */
  constructor(
    private readonly writeAll: (inputs: EventInput[]) => Promise<EventOutcome[]>,
    private readonly writeOne: (input: EventInput) => Promise<Written>,
  ) {}

  /** Resolves with the event once the transaction holding it committed. */
  add(input: EventInput): Promise<Written> {
    return new Promise<Written>((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      this.#scheduled ??= setImmediate(() => this.#flush());
    });
  }

  /** Write what waits now and wait for every batch in flight (the store calls it before closing). */
  async drain(): Promise<void> {
    this.#flush();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #flush(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    const batch = this.#waiting;
    if (batch.length === 0 || this.#inFlight.size >= MAX_IN_FLIGHT) return; // the batch in flight that ends first writes them
    this.#waiting = [];
    const job = this.#write(batch);
    this.#inFlight.add(job);
    void job.finally(() => {
      this.#inFlight.delete(job);
      this.#flush();
    });
  }

  async #write(batch: Waiting[]): Promise<void> {
    let outcomes: EventOutcome[];
    try {
      outcomes = await this.#writeAllRetryingDeadlocks(batch.map((w) => w.input));
    } catch (err) {
      if (batch.length === 1 || !refusedValue(err)) {
        for (const w of batch) w.reject(err);
        return;
      }
      // The database refused a value and rolled the batch back: each event alone, in order, so only a bad one fails.
      for (const w of batch) await this.writeOne(w.input).then(w.resolve, w.reject);
      return;
    }
    outcomes.forEach((o, i) => ('event' in o ? batch[i]!.resolve(o.event) : batch[i]!.reject(o.error)));
  }

  /**
   * A batch with events on several rollouts locks their rows in object-id order; a write that moves
   * agents between waves locks rollouts in stack-id order, so the two can deadlock. PostgreSQL then
   * rolls one transaction back (40P01) and nothing of it was written: the batch is tried again.
   */
  async #writeAllRetryingDeadlocks(inputs: EventInput[]): Promise<EventOutcome[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.writeAll(inputs);
      } catch (err) {
        if ((err as { code?: unknown }).code !== '40P01' || attempt >= DEADLOCK_ATTEMPTS) throw err;
      }
    }
  }
}

const DEADLOCK_ATTEMPTS = 3;

/**
 * Whether the database refused a value (SQLSTATE class 22, data exception, or 23, integrity
 * constraint violation): then nothing was written and the events can be tried one by one. Any
 * other failure — above all a connection lost, perhaps during COMMIT — fails them all, as a
 * failed write of one event does: written again, they might be written twice.
 */
function refusedValue(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^2[23]/.test(code);
}
