/**
 * A process-wide change counter that long polls wait on.
 *
 * Writers (the syncer after a commit, admin routes after label/annotation/target changes, event
 * reports) call `notify()`; readers remember the `version` they saw and `waitFor` a newer one.
 * Waiters are plain promise resolvers in a Set: thousands of parked polls cost one closure and
 * one timer each, and nothing spins.
 */
export class ChangeFeed {
  #version = 0;
  #waiters = new Set<() => void>();
  #listeners: ((scope: ChangeScope | undefined) => void)[] = [];

  /** Called synchronously inside notify(), before any waiter wakes (caches invalidate here). */
  onNotify(listener: (scope: ChangeScope | undefined) => void): void {
    this.#listeners.push(listener);
  }

  /** Monotonic counter, bumped by every notify(). */
  get version(): number {
    return this.#version;
  }

  /** How many callers are parked in waitFor right now (exported as a metric). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Record that something agents or admins can see has changed, and wake every waiter. */
  notify(scope?: ChangeScope): void {
    this.#version += 1;
    for (const listener of this.#listeners) listener(scope);
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /**
   * Resolve once version > since (true), or when timeoutMs passes or signal aborts (false).
   * Callers re-check their own condition after a wake: not every change concerns every waiter.
   */
  waitFor(since: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#version > since) return Promise.resolve(true);
    if (timeoutMs <= 0 || signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const finish = (changed: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        resolve(changed);
      };
      const wake = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.#waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Wake every waiter without a change (shutdown): they answer with what they have. */
  releaseAll(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }
}

/** What a notification is about; absent = anything may have changed. */
export interface ChangeScope {
  /** Only the objects of these stacks changed (no stack rows, labels or annotations). */
  stacks?: readonly string[];
}
