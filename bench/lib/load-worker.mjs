// The load generator: autocannon in its own process, so it never shares an event loop with the
// server it measures. Requests rotate over the given list (one per agent: path + headers).
import autocannon from 'autocannon';
import { serve } from './child.mjs';

function once(opts) {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

serve({
  async run({ url, requests, connections = 64, duration = 5, warmup = 1 }) {
    const base = { url, connections, pipelining: 1, timeout: 10, requests };
    if (warmup > 0) await once({ ...base, duration: warmup });
    const r = await once({ ...base, duration });
    return {
      requestsPerSecond: r.requests.total / duration,
      total: r.requests.total,
      latency: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.average },
      statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, v]) => [code, v.count])),
      errors: r.errors,
      timeouts: r.timeouts,
      bytesPerSecond: r.throughput.average,
    };
  },
});
