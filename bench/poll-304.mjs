// 304 polling throughput of the HTTP layer: a few hundred agents poll their target state with a
// matching If-None-Match (the steady state of a fleet with nothing to do), through keep-alive
// connections. The server (createServer from dist/, real SQLite file, rate limiting off) runs in
// a worker thread so that autocannon in the main thread never shares its event loop.
//
//   npm run build && node bench/poll-304.mjs [--agents 300] [--stacks 1000] [--per-agent 20]
//                                             [--connections 50] [--duration 10] [--full] [--park 0]
//
// --full also measures unconditional polls (200 with the objects) for comparison.
// --park N parks N long polls (wait=60, matching ETag; agents reused round-robin) and reports the
// server's heap per parked poll and the cost of waking them all for a change that concerns nobody.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import autocannon from 'autocannon';

const dist = new URL('../dist/', import.meta.url);
const load = (p) => import(new URL(p, dist).href);

if (!isMainThread) {
  // --- server thread ---
  const { openStore } = await load('store/open-store.js');
  const { createServer } = await load('http/server.js');
  const { ChangeFeed } = await load('change-feed.js');
  const store = await openStore(workerData.db);
  const app = await createServer({ store, feed: new ChangeFeed(), rateLimit: false });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  let queries = 0;
  const original = store.targetStateIds.bind(store);
  store.targetStateIds = (...args) => {
    queries += 1;
    return original(...args);
  };
  const { feed } = app.brokkr;
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose_gc');
  const gc = vm.runInNewContext('gc');
  parentPort.on('message', async (msg) => {
    if (msg === 'queries') parentPort.postMessage({ queries });
    if (msg === 'memory') {
      gc();
      parentPort.postMessage({ heapUsed: process.memoryUsage().heapUsed, waiting: feed.waiting });
    }
    if (msg === 'release') {
      feed.notify(); // a change that concerns nobody: every parked poll re-checks its cached tag and parks again
      parentPort.postMessage({ waiting: feed.waiting });
    }
    if (msg === 'close') {
      await app.close();
      await store.close();
      parentPort.postMessage({ closed: true });
    }
  });
  parentPort.postMessage({ url });
} else {
  const { values } = parseArgs({
    options: {
      agents: { type: 'string', default: '300' },
      stacks: { type: 'string', default: '1000' },
      'per-agent': { type: 'string', default: '20' },
      connections: { type: 'string', default: '50' },
      duration: { type: 'string', default: '10' },
      full: { type: 'boolean', default: false },
      park: { type: 'string', default: '0' },
    },
  });
  const agents = Number(values.agents);
  const stacks = Number(values.stacks);
  const perAgent = Number(values['per-agent']);
  const connections = Number(values.connections);
  const duration = Number(values.duration);

  const dir = mkdtempSync(join(tmpdir(), 'brokkr-poll304-'));
  const db = join(dir, 'bench.db');
  try {
    // --- data: stacks labelled g0..gN, agent i carries the labels of `perAgent` stacks ---
    const { openStore } = await load('store/open-store.js');
    const { generatePak, hashPak } = await load('http/pak.js');
    const store = await openStore(db);
    const gen = await store.ensureGenerator('bench', null);
    await store.saveSyncTarget(gen.id, { repo: 'bench', branch: 'main', root: '' });
    const yaml = (i) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stack-${i}\ndata:\n  value: "${'x'.repeat(200)}"\n`;
    await store.applyCommit({
      generatorId: gen.id,
      commit: { sha: 'a'.repeat(40), author_name: 'bench', author_email: 'b@e', subject: 'bench', committed_at: new Date().toISOString() },
      expectedCursor: null,
      upserts: Array.from({ length: stacks }, (_, i) => ({
        name: `stack-${i}`,
        path: `stack-${i}`,
        description: null,
        labels: [`g${i}`],
        annotations: {},
        content: { yaml: yaml(i), checksum: createHash('sha256').update(yaml(i)).digest('hex') },
      })),
      deletes: [],
      errors: [],
    });
    const fleet = [];
    for (let a = 0; a < agents; a++) {
      const pak = generatePak();
      const agent = await store.createAgent({ name: `agent-${a}`, cluster_name: 'bench', pak_hash: hashPak(pak) });
      for (let k = 0; k < perAgent; k++) await store.addLabel('agent', agent.id, `g${(a * perAgent + k) % stacks}`);
      fleet.push({ id: agent.id, pak });
    }
    await store.close();

    // --- server thread ---
    const worker = new Worker(new URL(import.meta.url), { workerData: { db } });
    const ask = (msg) =>
      new Promise((resolve) => {
        worker.once('message', resolve);
        if (msg) worker.postMessage(msg);
      });
    const { url } = await ask(null);

    // --- each agent's current ETag ---
    const etags = [];
    for (const agent of fleet) {
      const res = await fetch(`${url}/api/v1/agents/${agent.id}/target-state`, { headers: { authorization: `Bearer ${agent.pak}` } });
      const body = await res.json();
      if (res.status !== 200 || body.length !== perAgent) throw new Error(`agent ${agent.id}: ${res.status}, ${body.length} objects`);
      etags.push(res.headers.get('etag'));
    }

    const run = (conditional) =>
      new Promise((resolve, reject) =>
        autocannon(
          {
            url,
            connections,
            duration,
            requests: fleet.map((agent, i) => ({
              method: 'GET',
              path: `/api/v1/agents/${agent.id}/target-state`,
              headers: { authorization: `Bearer ${agent.pak}`, ...(conditional ? { 'if-none-match': etags[i] } : {}) },
            })),
          },
          (err, r) => (err ? reject(err) : resolve(r)),
        ),
      );

    async function parkPolls(n) {
      const http = await import('node:http');
      const agent = new http.Agent({ keepAlive: true, maxSockets: n });
      const before = await ask('memory');
      const { hostname, port } = new URL(url);
      const pending = [];
      for (let i = 0; i < n; i++) {
        const a = fleet[i % fleet.length];
        pending.push(
          new Promise((resolve) => {
            const req = http.get(
              { host: hostname, port, agent, path: `/api/v1/agents/${a.id}/target-state?wait=60`, headers: { authorization: `Bearer ${a.pak}`, 'if-none-match': etags[i % fleet.length] } },
              (res) => res.resume().on('end', () => resolve(res.statusCode)),
            );
            req.on('error', () => resolve('error'));
          }),
        );
      }
      let parked = 0;
      for (let t = 0; t < 600 && parked < n; t++) {
        await new Promise((r) => setTimeout(r, 100));
        parked = (await ask('memory')).waiting;
      }
      const during = await ask('memory');
      console.log(
        `parked ${during.waiting} long polls: server heap +${((during.heapUsed - before.heapUsed) / 1024 / 1024).toFixed(1)} MiB ` +
          `(${Math.round((during.heapUsed - before.heapUsed) / Math.max(1, during.waiting))} bytes per poll, sockets included)`,
      );
      const q0 = (await ask('queries')).queries;
      const t0 = performance.now();
      await ask('release');
      for (let t = 0; t < 100; t++) {
        const m = await ask('memory');
        if (m.waiting >= during.waiting) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const q1 = (await ask('queries')).queries;
      console.log(`a change that concerns none of them: all ${during.waiting} re-parked in ${(performance.now() - t0).toFixed(0)} ms with ${q1 - q0} target-state queries`);
      await ask('close'); // answers them all (304) and closes
      const codes = await Promise.all(pending);
      console.log(`on close: ${codes.filter((c) => c === 304).length} of ${n} answered 304`);
      agent.destroy();
      return;
    }

    const report = (name, r, queriesBefore, queriesAfter) => {
      const codes = Object.entries(r.statusCodeStats ?? {}).map(([c, v]) => `${c}×${v.count}`).join(' ');
      console.log(
        `${name}: ${Math.round(r.requests.total / duration)} req/s (${r.requests.total} in ${duration} s), ` +
          `latency p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms, answers ${codes}, errors ${r.errors}, ` +
          `target-state queries ${queriesAfter - queriesBefore}`,
      );
    };

    console.log(`poll-304: ${agents} agents × ${perAgent} stacks each (of ${stacks}), ${connections} connections, ${duration} s, Node ${process.version}`);
    const q0 = (await ask('queries')).queries;
    const r304 = await run(true);
    const q1 = (await ask('queries')).queries;
    report('304 (If-None-Match = current ETag)', r304, q0, q1);
    if (values.full) {
      const r200 = await run(false);
      const q2 = (await ask('queries')).queries;
      report(`200 (no ETag, ${perAgent} objects each)`, r200, q1, q2);
    }
    const park = Number(values.park);
    if (park > 0) await parkPolls(park);
    else await ask('close');
    await worker.terminate();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
