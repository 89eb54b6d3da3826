/**
 * The delivery worker on a thread of its own (`node:worker_threads`), so that sending webhooks —
 * claims, HTTP, signatures, outcome writes: ~210–280 µs of the thread's CPU per delivery and ~100
 * more on V8's helper threads (bench/experiments/webhook-thread-cpu.mjs, BENCHMARKS F12) — runs
 * beside the API instead of on its event loop, at a lower scheduling priority than the API (Linux,
 * see delivery-thread-entry.ts). The thread owns its connection to the database
 * (store/open-webhook-queue.ts) and its HTTP connection pools; this side only forwards wake-ups
 * (the store's change notifications) and shutdown, and receives log lines and attempt counts.
 *
 * The daemon starts it with the first subscription (`wanted`): until then there is nothing to send.
 * A thread that fails (cannot open the database, throws, is terminated) is logged and started
 * again after a back-off (1 s doubling to 30 s; reset once one has run for a minute): the daemon
 * never goes down with it, and deliveries it held are due again when their claims run out.
 * `stop()` asks the thread to abort its sends, record them and close, and waits for it to exit
 * (terminating it if it does not within STOP_TIMEOUT_MS): no thread outlives its daemon.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { DeliveryStatus } from '../store/webhook-store.js';
import type { WebhookWorkerOptions } from './delivery-worker.js';

/** The worker's settings that cross to the thread (plain data). */
export type ThreadWorkerOptions = Partial<Pick<WebhookWorkerOptions, 'concurrency' | 'perSubscription' | 'pollMs' | 'retry' | 'offlineAfterMs' | 'retentionMs'>>;

/** What the thread starts with (`workerData`). */
export interface ThreadConfig {
  /** The daemon's --db: a SQLite file (absolute) or a postgres:// URL. */
  db: string;
  holder: string;
  allowHosts: string[];
  worker: ThreadWorkerOptions;
}

export type AttemptCounts = Partial<Record<DeliveryStatus, number>>;

/** Daemon → thread. */
export type ControlMessage = { type: 'wake' } | { type: 'stop' };
/** Thread → daemon. */
export type ThreadMessage =
  /** `tid`: the thread's id in the operating system; `nice`: the priority it runs at (Linux; null elsewhere). */
  | { type: 'ready'; tid: number | null; nice: number | null }
  | { type: 'attempts'; counts: AttemptCounts }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; obj: object; msg: string };

export interface DeliveryThreadOptions extends Omit<ThreadConfig, 'worker'> {
  worker?: ThreadWorkerOptions;
  logger: Logger;
  /** Told the outcomes of each batch of attempts (metrics). */
  onAttempts?: (counts: AttemptCounts) => void;
  /** First restart delay after a failure (ms, default 1000; doubles to 30 s). */
  restartMs?: number;
  /**
   * Start the thread only once this says so (asked every `wantedEveryMs`, default 1 s), e.g. once a
   * subscription exists: a thread costs ~13 MiB of RSS (its own V8 isolate and modules), which a
   * daemon without webhooks should not pay. Without it the thread starts at once.
   */
  wanted?: () => Promise<boolean>;
  wantedEveryMs?: number;
}

const MAX_RESTART_MS = 30_000;
/** A thread that ran this long resets the back-off. */
const HEALTHY_AFTER_MS = 60_000;
/** A graceful stop aborts every send at once; this is only the bound for a thread that hangs. */
const STOP_TIMEOUT_MS = 15_000;
/** Wake-ups are coalesced: the thread debounces them (20 ms) anyway. */
const WAKE_COALESCE_MS = 5;

/**
 * The thread's entry beside this module: the compiled .js in dist/. From TypeScript sources (the
 * tests) the .ts, through tsx's module hooks (a devDependency: the published package never takes
 * this path). On Node 20 hooks are per thread and tsx registers itself on the main thread only,
 * so a one-line bootstrap registers them in the worker.
 */
function spawn(options: { workerData: ThreadConfig; name: string }): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./delivery-thread-entry.js', here), options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./delivery-thread-entry.ts', here).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

export class DeliveryThread {
  readonly #o: DeliveryThreadOptions;
  #worker: Worker | null = null;
  #startedAt = 0;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | null = null;
  #wakeTimer: NodeJS.Timeout | null = null;
  #wantedTimer: NodeJS.Timeout | null = null;
  #asking = false;
  #stopping = false;
  /** Deliveries sent successfully by this replica's thread(s) (metrics, bench, tests). */
  delivered = 0;
  /** Threads started so far (1 + restarts). */
  starts = 0;
  /** Whether the running thread has opened its connection and is claiming (diagnostics and tests). */
  ready = false;
  /** The running thread's id in the operating system and its nice value, once ready (Linux; diagnostics and tests). */
  scheduling: { tid: number | null; nice: number | null } | null = null;

  constructor(options: DeliveryThreadOptions) {
    this.#o = options;
  }

  /** The running thread, or null before it is wanted and between a failure and its restart (diagnostics and tests). */
  get thread(): Worker | null {
    return this.#worker;
  }

  /** Start the thread, or (with `wanted`) start waiting until it is wanted. */
  start(): void {
    if (!this.#o.wanted) return this.#spawn();
    if (this.#wantedTimer || this.#stopping) return;
    this.#wantedTimer = setInterval(() => void this.#askWanted(), this.#o.wantedEveryMs ?? 1000).unref();
    void this.#askWanted();
  }

  async #askWanted(): Promise<void> {
    if (this.#asking || this.#stopping || this.#worker) return;
    this.#asking = true;
    try {
      if (!(await this.#o.wanted!()) || this.#stopping) return;
      if (this.#wantedTimer) clearInterval(this.#wantedTimer);
      this.#wantedTimer = null;
      this.#spawn();
    } catch (err) {
      this.#o.logger.warn({ err: (err as Error).message }, 'could not tell whether webhook deliveries are wanted; asking again');
    } finally {
      this.#asking = false;
    }
  }

  #spawn(): void {
    if (this.#stopping || this.#worker) return;
    const { db, holder, allowHosts, worker: workerOptions = {} } = this.#o;
    const config: ThreadConfig = { db, holder, allowHosts, worker: workerOptions };
    const worker = spawn({ workerData: config, name: 'brokkr-webhooks' });
    this.#worker = worker;
    this.#startedAt = Date.now();
    this.starts++;
    worker.on('message', (m: ThreadMessage) => this.#onMessage(m));
    worker.on('error', (err) => this.#o.logger.error({ err: err.message }, 'the webhook delivery thread failed'));
    worker.on('exit', (code) => this.#onExit(worker, code));
  }

  /** Something changed in the database: tell the thread (deliveries may be due). */
  wake(): void {
    if (this.#wakeTimer || !this.#worker) return;
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = null;
      this.#post({ type: 'wake' });
    }, WAKE_COALESCE_MS);
  }

  /** Abort the sends in flight (recorded as failed, due again at once), close the thread's connections, wait for it to exit. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#wantedTimer) clearInterval(this.#wantedTimer);
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    const worker = this.#worker;
    if (!worker) return;
    const exited = once(worker, 'exit');
    worker.postMessage({ type: 'stop' } satisfies ControlMessage);
    const timer = setTimeout(() => {
      this.#o.logger.warn('the webhook delivery thread did not stop in time; terminating it');
      void worker.terminate();
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  #post(m: ControlMessage): void {
    this.#worker?.postMessage(m);
  }

  #onMessage(m: ThreadMessage): void {
    if (m.type === 'ready') {
      this.ready = true;
      this.scheduling = { tid: m.tid, nice: m.nice };
    } else if (m.type === 'attempts') {
      this.delivered += m.counts.success ?? 0;
      this.#o.onAttempts?.(m.counts);
    } else if (m.type === 'log') {
      this.#o.logger[m.level](m.obj, m.msg);
    }
  }

  #onExit(worker: Worker, code: number): void {
    if (this.#worker !== worker) return;
    this.#worker = null;
    this.ready = false;
    this.scheduling = null;
    if (this.#stopping) return;
    if (Date.now() - this.#startedAt >= HEALTHY_AFTER_MS) this.#failures = 0;
    const delay = Math.min(MAX_RESTART_MS, (this.#o.restartMs ?? 1000) * 2 ** this.#failures);
    this.#failures++;
    this.#o.logger.error({ code, restart_in_ms: delay }, 'the webhook delivery thread stopped unexpectedly; starting it again');
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      this.#spawn();
    }, delay);
  }
}
