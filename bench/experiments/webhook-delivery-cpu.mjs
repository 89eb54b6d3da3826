// Experiment — CPU of the webhook delivery thread per delivery, measured by the kernel's count of
// that one thread's CPU time (/proc/self/task/TID/stat), so the figure holds on a busy machine where
// latencies would not. Events are written at `rate`/s for `seconds` straight into the store (no
// HTTP), each making one delivery for a `*` subscription; a receiver in its own process answers
// after 200 ms; the run ends when every delivery has been sent.
//
//   npm run build && node bench/experiments/webhook-thread-cpu.mjs [--rate 1000] [--seconds 10]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { openStore } from '../../dist/store/open-store.js';
import { webhooksOf } from '../../dist/store/webhooks-of.js';
import { DeliveryThread } from '../../dist/webhooks/delivery-thread.js';
import { startWorker } from '../lib/child.mjs';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '10' } } });
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cpuOfTask = (tid) => {
  const stat = readFileSync(tid === null ? `/proc/${process.pid}/stat` : `/proc/${process.pid}/task/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

const dir = mkdtempSync(join(tmpdir(), 'brokkr-thread-cpu-'));
const path = join(dir, 'brokkr.db');
const store = await openStore(path);
const receiver = startWorker(new URL('../lib/receiver-worker.mjs', import.meta.url).pathname);
let thread = null;
try {
  const g = await store.ensureGenerator('repo', null);
  await store.saveSyncTarget(g.id, { repo: '/r', branch: 'main', root: '' });
  const commit = { sha: 'c1', author_name: 'a', author_email: 'a@x', subject: 's', committed_at: '2030-01-01T00:00:00.000Z' };
  const r = await store.applyCommit({ generatorId: g.id, commit, expectedCursor: null, upserts: [{ name: 'web', path: 'web', description: null, labels: [], annotations: {}, content: { yaml: 'a: 1\n', checksum: 'x' } }], deletes: [], errors: [] });
  const objectId = r.created[0].object_id;
  const agents = [];
  for (let i = 0; i < 200; i++) agents.push(await store.createAgent({ name: `a${i}`, cluster_name: 'c', pak_hash: `h${i}` }));
  const { url } = await receiver.call({ cmd: 'start', delayMs: 200 });
  await webhooksOf(store).createSubscription({ name: 'all', url, event_types: ['*'], secret: 'bench-secret', format: 'json', timeout_seconds: 30, created_by: null });
  thread = new DeliveryThread({ db: path, holder: 'bench', allowHosts: ['127.0.0.1'], logger: pino({ level: 'warn' }) });
  thread.start();
  while (!thread.ready) await sleep(20);
  const tid = thread.scheduling?.tid;
  if (!tid) throw new Error('the thread did not report its id (Linux only)');
  const threadBefore = cpuOfTask(tid);
  const mainBefore = cpuOfTask(process.pid);
  const allBefore = cpuOfTask(null);
  const t0 = performance.now();
  const total = rate * seconds;
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
    const batch = [];
    while (sent < due) batch.push(store.createEvent({ agent_id: agents[sent++ % agents.length].id, deployment_object_id: objectId, event_type: 'DEPLOY', status: sent % 10 === 0 ? 'FAILURE' : 'SUCCESS', message: 'applied' }));
    await Promise.all(batch);
    if (batch.length) thread.wake();
    await sleep(10);
  }
  const injectedS = (performance.now() - t0) / 1000;
  const mainAfter = cpuOfTask(process.pid);
  while (thread.delivered < total && performance.now() - t0 < (seconds + 60) * 1000) await sleep(50);
  const threadCpu = cpuOfTask(tid) - threadBefore;
  const mainCpu = cpuOfTask(process.pid) - mainBefore;
  const othersCpu = cpuOfTask(null) - allBefore - threadCpu - mainCpu;
  const { arrivals, cpuS } = await receiver.call({ cmd: 'arrivals', until: Date.now() });
  const lags = arrivals.map((a) => a.at - a.createdAt).sort((a, b) => a - b);
  console.log(
    `${total} events in ${injectedS.toFixed(1)} s; delivered ${thread.delivered} in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
      `thread CPU ${threadCpu.toFixed(2)} s = ${((threadCpu * 1e6) / Math.max(1, thread.delivered)).toFixed(0)} µs/delivery; ` +
      `main (event writes) ${(((mainAfter - mainBefore) * 1e6) / total).toFixed(0)} µs/event; other threads (GC helpers, libuv) ${((othersCpu * 1e6) / Math.max(1, thread.delivered)).toFixed(0)} µs/delivery; receiver CPU ${cpuS.toFixed(1)} s; lag median ${lags[lags.length >> 1]} ms`,
  );
} finally {
  await thread?.stop();
  await receiver.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
