/** When a failed deployment object may be tried again (per object, exponential backoff with jitter). */
import { backoffDelay, type BackoffOptions } from './backoff.js';

interface Pending {
  attempts: number;
  dueAt: number;
  lastMessage: string;
}

export class RetrySchedule {
  #pending = new Map<string, Pending>();
  constructor(
    private readonly options: BackoffOptions = { baseMs: 1_000, capMs: 60_000 },
    private readonly now: () => number = Date.now,
  ) {}

  /** Record a failure; returns the attempt count, the delay, and whether the message is new. */
  failed(objectId: string, message: string): { attempts: number; delayMs: number; newMessage: boolean } {
    const prev = this.#pending.get(objectId);
    const attempts = (prev?.attempts ?? 0) + 1;
    const delayMs = backoffDelay(attempts, this.options);
    this.#pending.set(objectId, { attempts, dueAt: this.now() + delayMs, lastMessage: message });
    return { attempts, delayMs, newMessage: prev?.lastMessage !== message };
  }

  /** Forget an object (it succeeded); returns how many attempts had failed before. */
  succeeded(objectId: string): number {
    const attempts = this.#pending.get(objectId)?.attempts ?? 0;
    this.#pending.delete(objectId);
    return attempts;
  }

  /** May this object be tried now? Unknown objects always may. */
  isDue(objectId: string): boolean {
    const p = this.#pending.get(objectId);
    return !p || p.dueAt <= this.now();
  }

  /** Milliseconds until the earliest retry among `objectIds`, or null if none is waiting. */
  msUntilNext(objectIds: Iterable<string>): number | null {
    let best: number | null = null;
    for (const id of objectIds) {
      const p = this.#pending.get(id);
      if (!p) continue;
      const ms = Math.max(0, p.dueAt - this.now());
      best = best === null ? ms : Math.min(best, ms);
    }
    return best;
  }

  /** Drop objects the daemon no longer asks for (superseded by a newer commit, or untargeted). */
  keepOnly(objectIds: Set<string>): void {
    for (const id of this.#pending.keys()) if (!objectIds.has(id)) this.#pending.delete(id);
  }
}
