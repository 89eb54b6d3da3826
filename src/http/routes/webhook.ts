/**
 * `POST /webhooks/git`: a push hook asks the syncer to fetch and sync now. No PAK: a shared
 * secret (HMAC over the raw body, or GitLab's token) when one is configured. Registered in its
 * own plugin scope because it reads the raw body of any content type.
 */
import type { FastifyInstance } from 'fastify';
import { limitByAddress } from '../auth.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { verifyWebhook } from '../webhook-signature.js';
import { responses } from './route-kit.js';

export function webhookRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.post(
    '/webhooks/git',
    {
      schema: {
        summary: 'Push hook (GitHub, Gitea, GitLab): fetch and sync now',
        description: 'With a configured secret, X-Hub-Signature-256 (HMAC-SHA256 of the body) or X-Gitlab-Token must prove it.',
        tags: ['sync'],
        response: {
          202: { type: 'object', properties: { accepted: { type: 'boolean' } }, description: 'A sync was requested' },
          ...responses({}, [413, 503]),
        },
      },
    },
    async (request, reply) => {
      limitByAddress(ctx.limiter, request);
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (ctx.webhookSecret && !verifyWebhook(ctx.webhookSecret, request.headers, raw)) {
        throw new ApiError('unauthorized', 'webhook signature missing or wrong (X-Hub-Signature-256 or X-Gitlab-Token)');
      }
      if (!ctx.syncer) throw new ApiError('not_ready', 'no syncer is running in this process');
      ctx.syncer.requestSync('webhook');
      return reply.code(202).send({ accepted: true });
    },
  );
}
