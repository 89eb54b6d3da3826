/**
 * The delivery process's program (see delivery-process.ts): yield the CPU to the daemon, wait for
 * its settings, open the queue on a connection of its own, run the delivery worker, forward its
 * logs and attempt counts to the daemon, and on `stop` (or when the daemon is gone) abort and
 * record the sends in flight, close the connection and exit.
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { openWebhookQueue, type WebhookQueue } from '../store/open-webhook-queue.js';
import type { AttemptCounts, ControlMessage, ProcessConfig, ProcessMessage } from './delivery-process.js';
import { DeliveryWorker, type WebhookLog } from './delivery-worker.js';
import { UrlPolicy } from './url-policy.js';

if (!process.send) {
  console.error('delivery-process-entry runs as a child of the daemon (see delivery-process.ts), not on its own');
  process.exit(2);
}
const post = (m: ProcessMessage) => {
  if (process.connected) process.send!(m);
};

const logger: WebhookLog = {
  info: (obj, msg) => post({ type: 'log', level: 'info', obj, msg }),
  warn: (obj, msg) => post({ type: 'log', level: 'warn', obj, msg }),
};

/**
 * Deliveries are background work: the process lowers its scheduling priority to nice 19, so that
 * when the cores are busy the scheduler runs the daemon (polls, reports, syncs, git) first and
 * deliveries take the CPU left over; only their lag grows. Linux keeps a nice value per thread
 * and `setpriority` lowers only the calling one, so each of the process's threads is lowered by
 * its id (V8's helper threads exist already; threads started later inherit the main thread's).
 * The figures with and without: BENCHMARKS F12.
 */
const BACKGROUND_NICE = 19;

function yieldCpu(): number | null {
  try {
    if (process.platform !== 'linux') setPriority(BACKGROUND_NICE);
    else for (const tid of readdirSync('/proc/self/task')) setPriority(Number(tid), BACKGROUND_NICE);
    return BACKGROUND_NICE;
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'the webhook delivery process could not lower its priority; it competes with the API for the CPU');
    return null;
  }
}

/** Nothing may end the process without the daemon hearing why (it logs the exit with the end of stderr too). */
process.on('uncaughtException', (err) => {
  post({ type: 'log', level: 'error', obj: { err: err.message }, msg: 'the webhook delivery process failed' });
  process.exitCode = 1;
  setImmediate(() => process.exit(1));
});

const nice = yieldCpu();
let worker: DeliveryWorker | null = null;
let queue: WebhookQueue | null = null;
let stopping: Promise<void> | null = null;

async function start(config: ProcessConfig): Promise<void> {
  queue = await openWebhookQueue(config.db);
  if (stopping) return;
  worker = new DeliveryWorker({
    ...config.worker,
    hooks: queue.hooks,
    holder: config.holder,
    policy: new UrlPolicy(config.allowHosts),
    logger,
    onAttempts: (outcomes) => {
      const counts: AttemptCounts = {};
      for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
      post({ type: 'attempts', counts });
    },
  });
  worker.start();
  post({ type: 'ready', nice });
}

/** Abort and record the sends in flight, close the connection, exit once what was posted has reached the daemon. */
function stop(): Promise<void> {
  return (stopping ??= (async () => {
    try {
      await worker?.stop();
      await queue?.close();
    } finally {
      if (process.connected) process.send!({ type: 'log', level: 'info', obj: {}, msg: 'webhook delivery process stopped' } satisfies ProcessMessage, () => process.exit(0));
      else process.exit(0);
    }
  })());
}

process.on('message', (m: ControlMessage) => {
  if (m.type === 'config') {
    if (!worker && !queue) start(m.config).catch((err: Error) => {
      post({ type: 'log', level: 'error', obj: { err: err.message }, msg: 'the webhook delivery process could not start' });
      setImmediate(() => process.exit(1));
    });
  } else if (m.type === 'wake') worker?.wake();
  else if (m.type === 'stop') void stop();
});
// The daemon is gone (killed, crashed) or closed the channel: stop as if asked.
process.on('disconnect', () => void stop());
