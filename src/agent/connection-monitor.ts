/** Tracks whether the daemon is reachable and logs only the transitions, never every failed attempt. */
import type { AgentLogger } from './logger.js';

export class ConnectionMonitor {
  #state: 'unknown' | 'up' | 'down' = 'unknown';
  #downSince = 0;
  #everUp = false;

  constructor(
    private readonly url: string,
    private readonly logger: AgentLogger,
    private readonly now: () => number = Date.now,
  ) {}

  get isDown(): boolean {
    return this.#state === 'down';
  }

  /** A request succeeded. */
  up(): void {
    if (this.#state === 'down') {
      const secs = Math.round((this.now() - this.#downSince) / 1000);
      this.logger.info(this.#everUp ? `connected again to ${this.url} (after ${secs}s)` : `reached ${this.url} (after ${secs}s)`);
    }
    this.#state = 'up';
    this.#everUp = true;
  }

  /** A request failed because the daemon was unreachable or unhealthy. */
  down(reason: string): void {
    if (this.#state === 'down') return;
    this.#state = 'down';
    this.#downSince = this.now();
    const what = this.#everUp ? 'lost connection to' : 'cannot reach';
    this.logger.warn(`${what} ${this.url}: ${reason}; retrying with backoff (at most 30s apart)`);
  }
}
