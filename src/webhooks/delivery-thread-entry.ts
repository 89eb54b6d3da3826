/**
 * The delivery thread's program (see delivery-thread.ts): open the queue on a connection of its
 * own, run the delivery worker, forward its logs and attempt counts to the daemon, and on `stop`
 * abort and record the sends in flight, close the connection and let the thread end.
 */
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
post({ type: 'ready' });
