/**
 * The delivery thread's program (see delivery-thread.ts): yield the CPU to the API, open the queue
 * on a connection of its own, run the delivery worker, forward its logs and attempt counts to the
 * daemon, and on `stop` abort and record the sends in flight, close the connection and let the
 * thread end.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { openWebhookQueue } from '../store/open-webhook-queue.js';
import type { AttemptCounts, ControlMessage, ThreadConfig, ThreadMessage } from './delivery-thread.js';
import { DeliveryWorker, type WebhookLog } from './delivery-worker.js';
import { UrlPolicy } from './url-policy.js';

const port = parentPort;
if (!port) throw new Error('delivery-thread-entry runs as a worker thread of the daemon (see delivery-thread.ts)');
const config = workerData as ThreadConfig;
const post = (m: ThreadMessage) => port.postMessage(m);

const logger: WebhookLog = {
  info: (obj, msg) => post({ type: 'log', level: 'info', obj, msg }),
  warn: (obj, msg) => post({ type: 'log', level: 'warn', obj, msg }),
};

/**
 * Deliveries are background work: on Linux the thread lowers its own scheduling priority (nice
 * 19), so that when the cores are busy the scheduler runs the API's thread (polls, reports, syncs)
 * first and deliveries take the CPU left over; only their lag grows. Linux keeps a nice value per
 * thread, so `setpriority` on the calling thread leaves the API at its own; elsewhere it would
 * lower the whole daemon, so it is not done there. The figures with and without: BENCHMARKS F12.
 */
const BACKGROUND_NICE = 19;

function yieldCpu(): { tid: number | null; nice: number | null } {
  if (process.platform !== 'linux') return { tid: null, nice: null };
  let tid: number | null = null;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop()) || null;
    setPriority(BACKGROUND_NICE);
    return { tid, nice: BACKGROUND_NICE };
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'the webhook delivery thread could not lower its priority; it competes with the API for the CPU');
    return { tid, nice: null };
  }
}

const scheduling = yieldCpu();
const queue = await openWebhookQueue(config.db);
const worker = new DeliveryWorker({
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

let stopping: Promise<void> | null = null;
port.on('message', (m: ControlMessage) => {
  if (m.type === 'wake') worker.wake();
  else if (m.type === 'stop') {
    stopping ??= (async () => {
      try {
        await worker.stop();
        await queue.close();
      } finally {
        port.close();
      }
    })();
  }
});
worker.start();
post({ type: 'ready', ...scheduling });
