/** One log line per request (method, route pattern, status, ms; never headers or bodies) and the HTTP duration metric. */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';
import { lazyChildLogger } from './lazy-logger.js';
import { routeConfig } from './route-config.js';

/**
 * Answered polls, heartbeats and agents' event reports are the bulk of all traffic (1,000 agents
 * polling every 10 s would write 100 lines/s; a fleet reporting 1,000 events/s, 1,000 lines/s) and
 * the request log was a fifth of the CPU of a 304 (bench F6): when they succeed they are logged at
 * `debug`; everything else, and every failure, at `info`.
 */
const ROUTINE = new Set(['/api/v1/agents/:id/target-state', '/api/v1/agents/:id/heartbeat', '/api/v1/agents/:id/events']);

/** The level an answer is logged at (route pattern, status): the fast path (fast-poll.ts) asks the same. */
export function requestLogLevel(route: string, status: number): 'debug' | 'info' {
  return status < 400 && ROUTINE.has(route) ? 'debug' : 'info';
}

export function installRequestLog(app: FastifyInstance, metrics: Metrics): void {
  // request.log is made on first use: most requests (successful polls) log nothing at the shipped level.
  app.setChildLoggerFactory(lazyChildLogger);
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the raw URL: bounded label cardinality and no ids or secrets in logs.
    const route = routeConfig(request)?.url ?? 'unmatched';
    const ms = reply.elapsedTime;
    const status = reply.statusCode;
    metrics.observeRequest(request.method, route, status, ms / 1000);
    const level = requestLogLevel(route, status);
    const log = request.log as typeof request.log & { isLevelEnabled?(level: string): boolean };
    if (log.isLevelEnabled && !log.isLevelEnabled(level)) return; // skip building the line at all
    log[level]({ method: request.method, route, status, ms: Math.round(ms * 10) / 10 }, 'request');
  });
}
