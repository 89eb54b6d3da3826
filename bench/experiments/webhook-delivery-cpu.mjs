// Experiment — CPU of the webhook delivery process per delivery, measured by the kernel's count of
// its threads' CPU time (/proc/PID/task/TID/stat), so the figure holds on a busy machine where
// latencies would not: its main thread (claims, HTTP, outcomes) apart from its other threads (V8's
// garbage collector helpers, libuv). Events are written at `rate`/s for `seconds` straight into the
// store (no HTTP), each making one delivery for a `*` subscription; a receiver in its own process
// answers after 200 ms; the run ends when every delivery has been sent.
//
//   npm run build && node bench/experiments/webhook-delivery-cpu.mjs [--rate 1000] [--seconds 10]
// Also prints the delivery process's peak RSS (VmHWM).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { openStore } from '../../dist/store/open-store.js';
import { webhooksOf } from '../../dist/store/webhooks-of.js';
import { DeliveryProcess } from '../../dist/webhooks/delivery-process.js';
import { startWorker } from '../lib/child.mjs';
import { cpuSecondsOf, statFields } from '../lib/proc-stat.mjs';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '10' } } });
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** CPU seconds of one thread of a process, or (tid null) of the whole process. */
const cpuOf = (pid, tid) => cpuSecondsOf(statFields(pid, tid));

const dir = mkdtempSync(join(tmpdir(), 'brokkr-delivery-cpu-'));
const path = join(dir, 'brokkr.db');
const store = await openStore(path);
const receiver = startWorker(new URL('../lib/receiver-worker.mjs', import.meta.url).pathname);
let delivery = null;
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
  delivery = new DeliveryProcess({ db: path, holder: 'bench', allowHosts: ['127.0.0.1'], logger: pino({ level: 'warn' }) });
  delivery.start();
  while (!delivery.ready) await sleep(20);
  const child = delivery.scheduling.pid;
  const threadBefore = cpuOf(child, child);
  const childBefore = cpuOf(child, null);
  const mainBefore = cpuOf(process.pid, process.pid);
  const t0 = performance.now();
  const total = rate * seconds;
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
    const batch = [];
    while (sent < due) batch.push(store.createEvent({ agent_id: agents[sent++ % agents.length].id, deployment_object_id: objectId, event_type: 'DEPLOY', status: sent % 10 === 0 ? 'FAILURE' : 'SUCCESS', message: 'applied' }));
    await Promise.all(batch);
    if (batch.length) delivery.wake();
    await sleep(10);
  }
  const injectedS = (performance.now() - t0) / 1000;
  const mainAfter = cpuOf(process.pid, process.pid);
  while (delivery.delivered < total && performance.now() - t0 < (seconds + 60) * 1000) await sleep(50);
  const rssMiB = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child}/status`, 'utf8'))?.[1]) / 1024;
  const threadCpu = cpuOf(child, child) - threadBefore;
  const othersCpu = cpuOf(child, null) - childBefore - threadCpu;
  const { arrivals, cpuS } = await receiver.call({ cmd: 'arrivals', until: Date.now() });
  const lags = arrivals.map((a) => a.at - a.createdAt).sort((a, b) => a - b);
  console.log(
    `${total} events in ${injectedS.toFixed(1)} s; delivered ${delivery.delivered} in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
      `delivery process: main thread ${threadCpu.toFixed(2)} s = ${((threadCpu * 1e6) / Math.max(1, delivery.delivered)).toFixed(0)} µs/delivery, ` +
      `other threads (GC helpers, libuv) ${((othersCpu * 1e6) / Math.max(1, delivery.delivered)).toFixed(0)} µs/delivery; this process (event writes) ${(((mainAfter - mainBefore) * 1e6) / total).toFixed(0)} µs/event; receiver CPU ${cpuS.toFixed(1)} s; lag median ${lags[lags.length >> 1]} ms; delivery process peak RSS ${rssMiB.toFixed(0)} MiB`,
  );
} finally {
  await delivery?.stop();
  await receiver.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
