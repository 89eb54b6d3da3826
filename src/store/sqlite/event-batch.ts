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

  constructor(private readonly db: SqliteDb) {}

  /** Resolves with the event once the transaction holding it committed. */
  add(input: EventInput): Promise<Written> {
    return new Promise<Written>((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      this.#scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Write what waits now (the store calls it before closing the connection). */
  flush(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    const batch = this.#waiting;
    this.#waiting = [];
    if (batch.length === 0) return;
    let outcomes: ({ event: Written } | { error: unknown })[];
    try {
      outcomes = this.db.tx(() =>
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
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    outcomes.forEach((o, i) => ('event' in o ? batch[i]!.resolve(o.event) : batch[i]!.reject(o.error)));
  }
}
