/** Prometheus metrics: one registry per server instance (tests create many), HTTP by route pattern, sync, agents, polls. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ChangeFeed } from '../change-feed.js';
import type { Store } from '../store/store.js';

/** What the syncer (or whoever runs syncs) reports; the daemon hands this to it. */
export interface SyncMetrics {
  /** One completed sync pass: how long it took and what it wrote. */
  observeSync(seconds: number, counts: { commits: number; objects: number; errors: number }): void;
  /** A sync pass that failed outright (git unreachable, database error). */
  syncFailed(): void;
}

export interface Metrics {
  registry: Registry;
  /** Totals over every repository; `forRepository(name)` also counts into that repository's series. */
  sync: SyncMetrics & { forRepository(name: string): SyncMetrics };
  observeRequest(method: string, route: string, status: number, seconds: number): void;
}

export interface MetricsOptions {
  store: Store;
  feed: ChangeFeed;
  /** Process metrics (memory, event loop lag); off in tests that create many servers. */
  processMetrics?: boolean;
}

export function createMetrics({ store, feed, processMetrics = false }: MetricsOptions): Metrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });

  const http = new RequestHistogram(registry);
  const syncDuration = new Histogram({
    name: 'brokkr_sync_duration_seconds',
    help: 'Duration of sync passes',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [registry],
  });
  const commits = new Counter({ name: 'brokkr_sync_commits_total', help: 'Commits processed', registers: [registry] });
  const objects = new Counter({ name: 'brokkr_sync_objects_total', help: 'Deployment objects written', registers: [registry] });
  const stackErrors = new Counter({ name: 'brokkr_sync_stack_errors_total', help: 'Stack errors recorded by sync passes', registers: [registry] });
  const failures = new Counter({ name: 'brokkr_sync_failures_total', help: 'Sync passes that failed outright', registers: [registry] });
  // Per repository, beside the totals above (whose names dashboards already use).
  const repoLabels = { labelNames: ['repository'] as const, registers: [registry] };
  const repoDuration = new Histogram({ name: 'brokkr_repository_sync_duration_seconds', help: 'Duration of sync passes per repository', buckets: [0.01, 0.1, 1, 5, 30, 120], ...repoLabels });
  const repoCommits = new Counter({ name: 'brokkr_repository_sync_commits_total', help: 'Commits processed per repository', ...repoLabels });
  const repoObjects = new Counter({ name: 'brokkr_repository_sync_objects_total', help: 'Deployment objects written per repository', ...repoLabels });
  const repoFailures = new Counter({ name: 'brokkr_repository_sync_failures_total', help: 'Failed sync passes per repository', ...repoLabels });

  new Gauge({
    name: 'brokkr_agents',
    help: 'Agents by status (soft-deleted agents excluded)',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const counts = await store.countAgentsByStatus();
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'brokkr_long_polls_waiting',
    help: 'Target-state and change long polls parked right now',
    registers: [registry],
    collect() {
      this.set(feed.waiting);
    },
  });
  new Gauge({
    name: 'brokkr_change_feed_version',
    help: 'Changes announced to long polls since start',
    registers: [registry],
    collect() {
      this.set(feed.version);
    },
  });

  const totals: SyncMetrics = {
    observeSync(seconds, counts) {
      syncDuration.observe(seconds);
      commits.inc(counts.commits);
      objects.inc(counts.objects);
      stackErrors.inc(counts.errors);
    },
    syncFailed() {
      failures.inc();
    },
  };
  return {
    registry,
    sync: {
      ...totals,
      forRepository: (repository) => ({
        observeSync(seconds, counts) {
          totals.observeSync(seconds, counts);
          repoDuration.observe({ repository }, seconds);
          repoCommits.inc({ repository }, counts.commits);
          repoObjects.inc({ repository }, counts.objects);
        },
        syncFailed() {
          totals.syncFailed();
          repoFailures.inc({ repository });
        },
      }),
    },
    observeRequest(method, route, status, seconds) {
      http.observe(method, route, status, seconds);
    },
  };
}

const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 61] as const;

interface Series {
  labels: { method: string; route: string; status: string };
  /** Per bucket (not cumulative), the last one past every bound. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * `brokkr_http_request_duration_seconds`: the same histogram, buckets and exposition lines as a
 * prom-client `Histogram` with labels method, route and status, but an observation looks its
 * series up in nested Maps instead of validating and hashing a labels object every time: that
 * cost ~3 % of the CPU of a 304 answer (bench F13), and prom-client's `labels()` children hash too.
 * Registered in the same registry, so /metrics, JSON export and `registry.clear()` are unchanged.
 */
class RequestHistogram {
  readonly name = 'brokkr_http_request_duration_seconds';
  readonly help = 'HTTP request durations by route pattern (long polls included)';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames = ['method', 'route', 'status'];
  /** method → route → status → series */
  #series = new Map<string, Map<string, Map<number, Series>>>();

  constructor(registry: Registry) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    let byRoute = this.#series.get(method);
    if (!byRoute) this.#series.set(method, (byRoute = new Map()));
    let byStatus = byRoute.get(route);
    if (!byStatus) byRoute.set(route, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) {
      series = { labels: { method, route, status: String(status) }, counts: new Array<number>(HTTP_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
      byStatus.set(status, series);
    }
    let i = 0;
    while (i < HTTP_BUCKETS.length && seconds > HTTP_BUCKETS[i]!) i++;
    series.counts[i]! += 1;
    series.sum += seconds;
    series.count += 1;
  }

  /** prom-client's exposition shape: `le` as the value's own label, the series' labels shared. */
  getForPromString() {
    const name = this.name;
    const values: { labels: Record<string, string | number>; sharedLabels: Record<string, string>; value: number; metricName: string }[] = [];
    for (const byRoute of this.#series.values()) {
      for (const byStatus of byRoute.values()) {
        for (const s of byStatus.values()) {
          let acc = 0;
          HTTP_BUCKETS.forEach((le, i) => {
            acc += s.counts[i]!;
            values.push({ labels: { le }, sharedLabels: s.labels, value: acc, metricName: `${name}_bucket` });
          });
          values.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: `${name}_bucket` });
          values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${name}_sum` });
          values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${name}_count` });
        }
      }
    }
    return { name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** `registry.getMetricsAsJSON()`: labels flattened, as prom-client's Histogram does. */
  async get() {
    const data = this.getForPromString();
    return { ...data, values: data.values.map(({ labels, sharedLabels, value, metricName }) => ({ labels: { ...labels, ...sharedLabels }, value, metricName })) };
  }

  reset(): void {
    this.#series.clear();
  }
}
