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

  const http = new Histogram({
    name: 'brokkr_http_request_duration_seconds',
    help: 'HTTP request durations by route pattern (long polls included)',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 61],
    registers: [registry],
  });
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
      http.observe({ method, route, status: String(status) }, seconds);
    },
  };
}
