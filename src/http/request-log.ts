/** One log line per request (method, route pattern, status, ms; never headers or bodies) and the HTTP duration metric. */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';

export function installRequestLog(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the raw URL: bounded label cardinality and no ids or secrets in logs.
    const route = request.routeOptions.url ?? 'unmatched';
    const ms = reply.elapsedTime;
    metrics.observeRequest(request.method, route, reply.statusCode, ms / 1000);
    request.log.info({ method: request.method, route, status: reply.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
  });
}
