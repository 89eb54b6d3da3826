/**
 * The delivery worker in a process of its own (a child of the daemon, `child_process.fork`), so
 * that sending webhooks — claims, HTTP, signatures, outcome writes — runs beside the API instead of
 * on its event loop, and takes only the CPU the API leaves:
 *
 * - Every thread of the child runs at the lowest scheduling priority (nice 19, Linux; see
 *   delivery-process-entry.ts), its garbage collector's helper threads included. A worker thread
 *   inside the daemon could lower only its own thread: V8's helper threads are the process's,
 *   shared with the API.
 * - The child runs V8 with its default heap settings. The daemon runs V8 in its memory-over-speed
 *   mode (--optimize-for-size, daemon/heap-settings.ts), which holds the young generation at
 *   ~1 MiB: a delivery thread inside it collected ~40 times a second at 1,000 deliveries/s, on
 *   helper threads at the API's priority, and a commit reached its agents 1–2 ms later than without
 *   a subscription (BENCHMARKS F12, seventh pass).
 *
 * The child owns its connection to the database (store/open-webhook-queue.ts) and its HTTP
 * connection pools; this side only forwards wake-ups (the store's change notifications) and
 * shutdown, and receives log lines and attempt counts. Its settings arrive as the first message,
 * not on its command line, where a postgres:// URL's password would be visible to `ps`.
 *
 * The daemon starts it with the first subscription (`wanted`): until then there is nothing to send.
 * A child that fails (cannot open the database, throws, is killed) is logged with the end of its
 * stderr and started again after a back-off (1 s doubling to 30 s; reset once one has run for a
 * minute): the daemon never goes down with it, and deliveries it held are due again when their
 * claims run out. `stop()` asks it to abort its sends, record them and close, and waits for it to
 * exit (killing it if it does not within STOP_TIMEOUT_MS). A daemon that dies without stopping it
 * closes its end of the IPC channel, and the child stops on its own (`disconnect`): no delivery
 * process outlives its daemon.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { DeliveryStatus } from '../store/webhook-store.js';
import type { WebhookWorkerOptions } from './delivery-worker.js';

/** The worker's settings that cross to the child (plain data). */
export type ProcessWorkerOptions = Partial<Pick<WebhookWorkerOptions, 'concurrency' | 'perSubscription' | 'pollMs' | 'retry' | 'offlineAfterMs' | 'retentionMs'>>;

/** What the child starts with (its first message). */
export interface ProcessConfig {
  /** The daemon's --db: a SQLite file (absolute) or a postgres:// URL. */
  db: string;
  holder: string;
  allowHosts: string[];
  worker: ProcessWorkerOptions;
}

export type AttemptCounts = Partial<Record<DeliveryStatus, number>>;

/** Daemon → child. */
export type ControlMessage = { type: 'config'; config: ProcessConfig } | { type: 'wake' } | { type: 'stop' };
/** Child → daemon. */
export type ProcessMessage =
  /** `nice`: the priority its threads run at (null: it could not lower it). */
  | { type: 'ready'; nice: number | null }
  | { type: 'attempts'; counts: AttemptCounts }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; obj: object; msg: string };

export interface DeliveryProcessOptions extends Omit<ProcessConfig, 'worker'> {
  worker?: ProcessWorkerOptions;
  logger: Logger;
  /** Told the outcomes of each batch of attempts (metrics). */
  onAttempts?: (counts: AttemptCounts) => void;
  /** First restart delay after a failure (ms, default 1000; doubles to 30 s). */
  restartMs?: number;
  /**
   * Start the child only once this says so (asked every `wantedEveryMs`, default 1 s), e.g. once a
   * subscription exists: a process costs memory of its own (a Node.js runtime and its heap), which
   * a daemon without webhooks should not pay. Without it the child starts at once.
   */
  wanted?: () => Promise<boolean>;
  wantedEveryMs?: number;
}

const MAX_RESTART_MS = 30_000;
/** A child that ran this long resets the back-off. */
const HEALTHY_AFTER_MS = 60_000;
/** A graceful stop aborts every send at once; this is only the bound for a child that hangs. */
const STOP_TIMEOUT_MS = 15_000;
/** Wake-ups are coalesced: the child debounces them (20 ms) anyway. */
const WAKE_COALESCE_MS = 5;
/** How much of the child's stderr is kept for the log line of an unexpected exit. */
const STDERR_TAIL = 2048;

/** The daemon's V8 setting is its own (heap-settings.ts): the child runs with V8's defaults. */
const HEAP_MODE = /^--(no-)?optimize[-_]for[-_]size$/;

/**
 * The child's entry beside this module: the compiled .js in dist/. From TypeScript sources (the
 * tests) the .ts, with tsx's module hooks loaded by `--import` (a devDependency: the published
 * package never takes this path).
 */
function spawn(): ChildProcess {
  const here = import.meta.url;
  const ts = here.endsWith('.ts');
  const entry = fileURLToPath(new URL(ts ? './delivery-process-entry.ts' : './delivery-process-entry.js', here));
  const execArgv = process.execArgv.filter((a) => !HEAP_MODE.test(a));
  if (ts) execArgv.push('--import', import.meta.resolve('tsx'));
  return fork(entry, [], { execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
}

export class DeliveryProcess {
  readonly #o: DeliveryProcessOptions;
  #child: ChildProcess | null = null;
  #startedAt = 0;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | null = null;
  #wakeTimer: NodeJS.Timeout | null = null;
  #wantedTimer: NodeJS.Timeout | null = null;
  #asking = false;
  #stopping = false;
  /** Deliveries sent successfully by this replica's delivery process(es) (metrics, bench, tests). */
  delivered = 0;
  /** Processes started so far (1 + restarts). */
  starts = 0;
  /** Whether the running child has opened its connection and is claiming (diagnostics and tests). */
  ready = false;
  /** The running child's pid and the nice value its threads run at, once ready (diagnostics and tests). */
  scheduling: { pid: number; nice: number | null } | null = null;

  constructor(options: DeliveryProcessOptions) {
    this.#o = options;
  }

  /** The running child, or null before it is wanted and between a failure and its restart (diagnostics and tests). */
  get child(): ChildProcess | null {
    return this.#child;
  }

  /** Start the child, or (with `wanted`) start waiting until it is wanted. */
  start(): void {
    if (!this.#o.wanted) return this.#spawn();
    if (this.#wantedTimer || this.#stopping) return;
    this.#wantedTimer = setInterval(() => void this.#askWanted(), this.#o.wantedEveryMs ?? 1000).unref();
    void this.#askWanted();
  }

  async #askWanted(): Promise<void> {
    if (this.#asking || this.#stopping || this.#child) return;
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
    if (this.#stopping || this.#child) return;
    const { db, holder, allowHosts, worker: workerOptions = {} } = this.#o;
    const child = spawn();
    this.#child = child;
    this.#startedAt = Date.now();
    this.starts++;
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-STDERR_TAIL)));
    child.on('message', (m: ProcessMessage) => this.#onMessage(child, m));
    // A child that could not be started emits 'error' and may never emit 'exit'.
    child.on('error', (err) => {
      this.#o.logger.error({ err: err.message }, 'the webhook delivery process failed');
      if (child.pid === undefined) this.#onExit(child, null, null, stderr);
    });
    child.on('exit', (code, signal) => this.#onExit(child, code, signal, stderr));
    this.#send(child, { type: 'config', config: { db, holder, allowHosts, worker: workerOptions } });
  }

  /** Something changed in the database: tell the child (deliveries may be due). */
  wake(): void {
    if (this.#wakeTimer || !this.#child) return;
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = null;
      if (this.#child) this.#send(this.#child, { type: 'wake' });
    }, WAKE_COALESCE_MS);
  }

  /** Abort the sends in flight (recorded as failed, due again at once), close the child's connections, wait for it to exit. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#wantedTimer) clearInterval(this.#wantedTimer);
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    const child = this.#child;
    if (!child) return;
    const exited = child.exitCode === null && child.signalCode === null ? once(child, 'exit') : Promise.resolve();
    this.#send(child, { type: 'stop' });
    const timer = setTimeout(() => {
      this.#o.logger.warn('the webhook delivery process did not stop in time; killing it');
      child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  /** A message to the child; one that has exited (its channel closed) is told nothing: its exit is handled. */
  #send(child: ChildProcess, m: ControlMessage): void {
    if (!child.connected) return;
    child.send(m, (err) => {
      if (err && child.connected) this.#o.logger.warn({ err: err.message, message: m.type }, 'could not reach the webhook delivery process');
    });
  }

  #onMessage(child: ChildProcess, m: ProcessMessage): void {
    if (m.type === 'ready') {
      this.ready = true;
      this.scheduling = { pid: child.pid!, nice: m.nice };
    } else if (m.type === 'attempts') {
      this.delivered += m.counts.success ?? 0;
      this.#o.onAttempts?.(m.counts);
    } else if (m.type === 'log') {
      this.#o.logger[m.level](m.obj, m.msg);
    }
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null, stderr: string): void {
    if (this.#child !== child) return;
    this.#child = null;
    this.ready = false;
    this.scheduling = null;
    if (this.#stopping) return;
    if (Date.now() - this.#startedAt >= HEALTHY_AFTER_MS) this.#failures = 0;
    const delay = Math.min(MAX_RESTART_MS, (this.#o.restartMs ?? 1000) * 2 ** this.#failures);
    this.#failures++;
    const tail = stderr.trim().split('\n').slice(-5).join('\n');
    this.#o.logger.error(
      { code, signal, restart_in_ms: delay, ...(tail ? { stderr: tail } : {}) },
      'the webhook delivery process stopped unexpectedly; starting it again',
    );
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      this.#spawn();
    }, delay);
  }
}
