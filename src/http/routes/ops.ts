/** Operations endpoints (no prefix, no PAK): liveness, readiness, Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';

export function opsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/healthz',
    { schema: { summary: 'The process is up', tags: ['ops'], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'The database is open and the first sync is done (503 until then)',
        tags: ['ops'],
        response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, 503: errorSchema },
      },
    },
    async () => {
      if (ctx.closing) throw new ApiError('not_ready', 'shutting down');
      if (!ctx.syncer?.isReady()) throw new ApiError('not_ready', 'the first sync has not finished yet');
      return { status: 'ready' };
    },
  );

  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text format)', tags: ['ops'] } }, async (_request, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(body);
  });
}
