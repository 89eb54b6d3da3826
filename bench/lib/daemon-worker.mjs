// A worker process running the real daemon (startDaemon: store, syncer, HTTP API, dashboard,
// per-request log at info to stdout — which the parent discards), so that load generators in
// other processes measure it over loopback. The parent seeds agents through the store directly.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { memoryOf, serve } from './child.mjs';
import { load } from './product.mjs';
import { cpuSecondsOf, statFields } from './proc-stat.mjs';

const { startDaemon, daemonLogger } = await load('daemon/daemon.js');
const { generatePak, hashPak } = await load('http/pak.js');
// What `serve` does before it starts the daemon: V8's memory-over-speed mode unless the process
// was started with an explicit --(no-)optimize-for-size (src/daemon/heap-settings.ts, finding F5).
(await load('daemon/heap-settings.js')).useDaemonHeapSettings();
const { webhooksOf } = await load('store/webhooks-of.js');

let daemon = null;
/**
 * Garbage collections of this process by kind (V8's PerformanceEntry 'gc': count, ms), for the
 * polling scenario's "GC per answer": whether a setting costs collection time or compiled-code speed.
 */
const gcTotals = { minor: { n: 0, ms: 0 }, major: { n: 0, ms: 0 }, other: { n: 0, ms: 0 } };
{
  const { PerformanceObserver, constants } = await import('node:perf_hooks');
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = e.detail?.kind ?? e.kind;
      const t = kind === constants.NODE_PERFORMANCE_GC_MINOR ? gcTotals.minor : kind === constants.NODE_PERFORMANCE_GC_MAJOR ? gcTotals.major : gcTotals.other;
      t.n += 1;
      t.ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
}
/** Wall-clock (epoch ms, sub-ms precision) of sync requests and change notifications, for latency breakdowns. */
const trace = [];
const now = () => performance.timeOrigin + performance.now();

serve(
  {
    // `db`: a postgres:// URL (the replica scenarios; `dir` is then this replica's --data-dir), else a SQLite file in `dir`.
    // `webhooks`: the daemon's outbound webhook options (allowHosts, concurrency…; the webhooks scenario).
    async start({ repo, dir, watch = false, log = 'info', adminPak, db, leaseTtlMs, webhooks }) {
      mkdirSync(dir, { recursive: true });
      const t0 = performance.now();
      daemon = await startDaemon({
        repo,
        branch: 'main',
        db: db ?? join(dir, 'brokkr.db'),
        ...(db ? { dataDir: join(dir, 'clones') } : {}),
        ...(leaseTtlMs ? { leaseTtlMs } : {}),
        ...(webhooks ? { webhooks } : {}),
        port: 0,
        watch,
        logger: daemonLogger(log),
        env: { BROKKR_ADMIN_PAK: adminPak },
      });
      await daemon.firstSync;
      if (!daemon.syncer.isReady()) throw new Error('the first sync failed');
      // Observe (not change) the pipeline: the ref watcher calls syncer.requestSync, a synced
      // commit calls feed.notify.
      const { syncer, feed } = daemon;
      const requestSync = syncer.requestSync.bind(syncer);
      syncer.requestSync = (reason) => {
        trace.push({ kind: 'request', reason, t: now() });
        requestSync(reason);
      };
      // The store's write of a commit (one transaction): where the sync's time goes between the two.
      const applyCommit = daemon.store.applyCommit.bind(daemon.store);
      daemon.store.applyCommit = async (...args) => {
        trace.push({ kind: 'write', t: now() });
        try {
          return await applyCommit(...args);
        } finally {
          trace.push({ kind: 'written', t: now() });
        }
      };
      const notify = feed.notify.bind(feed);
      feed.notify = (...args) => {
        trace.push({ kind: 'notify', t: now(), waiting: feed.waiting, scope: args[0] });
        notify(...args);
        trace.push({ kind: 'notified', t: now() });
      };
      return { url: daemon.url, startMs: performance.now() - t0, pid: process.pid, replicaId: daemon.replicaId, holdsLease: daemon.syncer.holdsLease() };
    },
    /** Replica scenarios: whether this replica holds the repository's sync lease now. */
    lease: () => ({ holdsLease: daemon.syncer.holdsLease(), replicaId: daemon.replicaId }),
    /**
     * `count` agents labelled grp-<j % groups> (each associated with the stacks of that group),
     * then `probes` agents labelled `probe`. Returns their ids and PAKs.
     */
    async agents({ count, groups, probes = 0, prefix = 'agent' }) {
      const { store } = daemon;
      const out = [];
      const make = async (name, label) => {
        const pak = generatePak();
        const agent = await store.createAgent({ name, cluster_name: 'bench', pak_hash: hashPak(pak) });
        await store.addLabel('agent', agent.id, label);
        out.push({ id: agent.id, name, pak, label });
      };
      for (let j = 0; j < count; j++) await make(`${prefix}-${j}`, `grp-${j % groups}`);
      for (let j = 0; j < probes; j++) await make(`probe-${j}`, 'probe');
      return { agents: out };
    },
    /** Outbound webhooks: deliveries sent by this daemon, and the queue by status. */
    webhooks: async () => ({ delivered: daemon.webhooks.delivered, counts: await webhooksOf(daemon.store).countDeliveries(), pid: daemon.webhooks.child?.pid ?? null, ready: daemon.webhooks.ready }),
    /** Trace entries recorded since the last call. */
    trace: () => ({ trace: trace.splice(0) }),
    /** Diagnostics: write a heap snapshot (a full GC first) and report memory after it. */
    async heapSnapshot({ file }) {
      const { writeHeapSnapshot } = await import('node:v8');
      writeHeapSnapshot(file);
      const mem = process.memoryUsage();
      return { file, ...memoryOf(), heapUsedMiB: mem.heapUsed / 2 ** 20, heapTotalMiB: mem.heapTotal / 2 ** 20 };
    },
    /** Diagnostics: a full GC, then the live heap (used for "heap per parked poll"; never before an RSS figure). */
    async gc() {
      const v8 = await import('node:v8');
      const vm = await import('node:vm');
      v8.setFlagsFromString('--expose_gc');
      vm.runInNewContext('gc')();
      const mem = process.memoryUsage();
      return { ...memoryOf(), heapUsedMiB: mem.heapUsed / 2 ** 20, waiting: daemon.feed.waiting };
    },
    /**
     * CPU time of this process's threads so far (µs, from /proc/self/task/<tid>/stat: 10 ms ticks):
     * the main thread (the event loop that answers HTTP) apart from all others (V8's GC and
     * compiler helpers, libuv's pool).
     */
    threadCpu: async () => {
      const { readdirSync } = await import('node:fs');
      let main = 0;
      let others = 0;
      for (const tid of readdirSync('/proc/self/task')) {
        let fields;
        try {
          fields = statFields('self', tid);
        } catch {
          continue; // the thread ended
        }
        const us = cpuSecondsOf(fields) * 1e6;
        if (Number(tid) === process.pid) main += us;
        else others += us;
      }
      return { main, others };
    },
    /** Garbage collections so far, by kind: { minor, major, other: { n, ms } } (cumulative). */
    gcStats: async () => {
      const { getHeapSpaceStatistics } = await import('node:v8');
      const space = (name) => getHeapSpaceStatistics().find((s) => s.space_name === name)?.space_size ?? 0;
      return { ...structuredClone(gcTotals), newSpaceMiB: space('new_space') / 2 ** 20, oldSpaceMiB: space('old_space') / 2 ** 20 };
    },
    /** Diagnostics: RSS by mapping (/proc/self/smaps): malloc's [heap], the node binary, other files, anonymous maps (V8 heap, thread stacks, mmapped malloc). */
    async smaps() {
      const { readFileSync } = await import('node:fs');
      const out = {};
      let name = null;
      for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
        const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
        if (head) {
          const path = head[1].trim();
          name = path === '' ? 'anonymous' : path.startsWith('[') ? path : path === process.execPath ? 'node binary' : path.endsWith('.node') ? 'native addons' : 'other files';
          continue;
        }
        const rss = /^Rss:\s+(\d+) kB/.exec(line);
        if (rss && name) out[name] = (out[name] ?? 0) + Number(rss[1]) / 1024;
      }
      return { smapsMiB: out };
    },
    /** `deliveryRssMiB`: the webhook delivery process's (a child of the daemon; 0 while there is none). */
    async memory() {
      const mem = process.memoryUsage();
      const delivery = daemon.webhooks.child?.pid;
      let deliveryRssMiB = 0;
      try {
        if (delivery) deliveryRssMiB = memoryOf(delivery).rssMiB;
      } catch {
        /* it exited meanwhile */
      }
      return {
        ...memoryOf(),
        deliveryRssMiB,
        heapUsedMiB: mem.heapUsed / 2 ** 20,
        heapTotalMiB: mem.heapTotal / 2 ** 20,
        externalMiB: mem.external / 2 ** 20,
        waiting: daemon.feed.waiting,
      };
    },
  },
  async () => {
    await daemon?.close();
  },
);
