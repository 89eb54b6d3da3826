/**
 * Push hooks ask for a fetch and sync now. `POST /webhooks/git/{name}` names the repository;
 * `POST /webhooks/git` finds it by the repository URLs in the payload (GitHub, Gitea, GitLab),
 * or, naming none the daemon syncs, asks every repository. No PAK: a shared secret (HMAC over the
 * raw body, or GitLab's token) — the repository's own when it has one, else the daemon's.
 * Registered in its own plugin scope because it reads the raw body of any content type.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { limitByAddress } from '../auth.js';
import type { ServerContext } from '../context.js';
import { ApiError, notFound } from '../errors.js';
import { verifyWebhook } from '../webhook-signature.js';
import { responses } from './route-kit.js';

export function webhookRoutes(parent: FastifyInstance, ctx: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
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
          202: accepted,
          ...responses({}, [413, 503]),
        },
      },
    },
    async (request, reply) => {
      limitByAddress(ctx.limiter, request);
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const named = payloadUrls(raw).map((url) => ctx.repositories?.find({ url })).find((r) => r != null) ?? null;
      checkSignature(named?.webhookSecret ?? ctx.webhookSecret, request.headers, raw);
      if (named?.entry.generator_id && ctx.repositories) {
        await ctx.repositories.requestSyncOf(named.entry.generator_id);
        return reply.code(202).send({ accepted: true, repository: named.entry.name });
      }
      if (!ctx.syncer) throw new ApiError('not_ready', 'no syncer is running in this process');
      ctx.syncer.requestSync('webhook');
      return reply.code(202).send({ accepted: true });
    },
  );

  app.post(
    '/webhooks/git/:name',
    {
      schema: {
        summary: 'Push hook for one repository (by its name): fetch and sync it now',
        description: 'The repository’s own webhook secret (else the daemon’s) must sign the body, as on /webhooks/git.',
        tags: ['sync'],
        params: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: {
          202: accepted,
          ...responses({}, [404, 413, 503]),
        },
      },
    },
    async (request, reply) => {
      limitByAddress(ctx.limiter, request);
      const { name } = request.params;
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const found = ctx.repositories?.find({ name }) ?? null;
      // Unknown names answer like a bad signature would not: the repository list is no secret to
      // whoever can reach the hook, but say only that this name is not synced here.
      if (!found || !found.entry.generator_id) throw notFound(`no repository named ${JSON.stringify(name)} is synced by this daemon`);
      checkSignature(found.webhookSecret ?? ctx.webhookSecret, request.headers, raw);
      await ctx.repositories!.requestSyncOf(found.entry.generator_id);
      return reply.code(202).send({ accepted: true, repository: found.entry.name });
    },
  );
}

const accepted = {
  type: 'object',
  properties: { accepted: { type: 'boolean' }, repository: { type: 'string', description: 'The repository asked to sync (absent: all)' } },
  description: 'A sync was requested',
};

function checkSignature(secret: string | null, headers: Parameters<typeof verifyWebhook>[1], raw: Buffer): void {
  if (secret && !verifyWebhook(secret, headers, raw)) {
    throw new ApiError('unauthorized', 'webhook signature missing or wrong (X-Hub-Signature-256 or X-Gitlab-Token)');
  }
}

/** Repository URLs a push payload names (GitHub/Gitea `repository.*_url`, GitLab `project.*` and `repository.*`). */
export function payloadUrls(raw: Buffer): string[] {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return []; // not JSON (or form-encoded): the hook then asks every repository
  }
  const urls: string[] = [];
  for (const holder of ['repository', 'project'] as const) {
    const o = (body as Record<string, unknown> | null)?.[holder];
    if (!o || typeof o !== 'object') continue;
    for (const key of ['clone_url', 'ssh_url', 'git_url', 'html_url', 'url', 'git_http_url', 'git_ssh_url', 'web_url', 'homepage']) {
      const v = (o as Record<string, unknown>)[key];
      if (typeof v === 'string' && v.length > 0 && v.length < 2048) urls.push(v);
    }
  }
  return urls;
}
