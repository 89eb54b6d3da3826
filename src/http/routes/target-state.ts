/**
 * `GET /agents/{id}/target-state`: what the agent must deploy, with ETag / If-None-Match and long polls.
 *
 * Long poll (`?wait=S`): with If-None-Match the request is held while the tag still matches;
 * without it, while the answer would be empty (nothing to do). It parks on the change feed —
 * one promise and one timer per request, no polling loop — and on every wake-up re-checks its
 * own (cached) tag, because most wake-ups concern other agents. At the deadline it answers 304
 * (or the empty list), re-checking the database once more first.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { extractPak } from '../auth.js';
import { arrayOf, deploymentObjectSchema, idParams, waitParam } from '../schemas.js';
import { ifNoneMatchHit, parseIfNoneMatch, type TargetMode, type TargetState } from '../target-states.js';
import { ADMIN_OR_SELF, agentOr404, responses } from './route-kit.js';

const query = Type.Object({
  mode: Type.Optional(
    Type.Unsafe<TargetMode>({
      type: 'string',
      enum: ['incremental', 'full'],
      description: 'incremental (default) leaves out objects the agent reported SUCCESS for',
    }),
  ),
  wait: Type.Optional(waitParam),
});

/**
 * An AbortSignal that fires when the client goes away, so a parked poll stops waiting at once.
 * 'close' also follows every completed answer, when nobody waits on the signal any more: aborting
 * then built a DOMException per answer — ~12 % of the daemon's CPU in a 600-agent rollout release
 * (bench F11) — so only a close before the answer finished aborts.
 */
function closedSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

export function targetStateRoutes(parent: FastifyInstance, ctx: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  const { store, feed, targets } = ctx;

  app.get(
    '/agents/:id/target-state',
    {
      schema: {
        summary: 'The agent’s target state: the latest object of every associated stack, newest sequence_id first',
        description:
          'Answers with an ETag; a matching If-None-Match gets 304. wait=S (0..60) holds the request until the state ' +
          'changes (with If-None-Match) or until there is something to deploy (without), then answers 304 / [] at the deadline.',
        tags: ['target state'],
        params: idParams,
        querystring: query,
        response: responses({ 200: arrayOf(deploymentObjectSchema), 304: { type: 'null', description: 'Not modified' } }, [
          400, 403, 404,
        ]),
      },
      config: { access: ADMIN_OR_SELF },
    },
    async (request, reply) => {
      const { id } = request.params;
      const q = request.query;
      const mode = q.mode ?? 'incremental';
      const waitMs = Number(q.wait ?? '0') * 1000;
      // An agent principal is its own proof of existence (deleted agents cannot authenticate).
      if (request.principal?.role !== 'agent') await agentOr404(store, id);

      const condition = parseIfNoneMatch(request.headers['if-none-match']);
      const deadline = Date.now() + waitMs;
      let signal: AbortSignal | undefined;
      let state: TargetState;
      for (;;) {
        const version = feed.version;
        state = await targets.current(id, mode);
        const unchanged = condition ? ifNoneMatchHit(condition, state.etag) : waitMs > 0 && state.entries.length === 0;
        const remaining = deadline - Date.now();
        if (!unchanged || remaining <= 0 || ctx.closing || signal?.aborted) break;
        signal ??= closedSignal(reply);
        // Resolves on the next notify after `version` (at once if one happened during the query above).
        await feed.waitFor(version, remaining, signal);
        // The PAK was checked when the request arrived; a rotation or deletion while it was parked
        // (both wake the feed) must cut it off too, not answer it up to a minute later.
        if (request.principal?.role === 'agent') {
          const again = await ctx.auth.authenticate(extractPak(request.headers.authorization) ?? '');
          if (again?.role !== 'agent' || again.agent.id !== request.principal.agent.id) {
            throw new ApiError('unauthorized', 'the PAK was revoked while the request waited (PAK rotated or agent deleted)', {
              'WWW-Authenticate': 'Bearer',
            });
          }
        }
      }

      reply.header('etag', state.etag);
      if (ifNoneMatchHit(condition, state.etag)) return reply.code(304).send();
      const body = await targets.body(state, async () => {
        const objects = state.entries.length === 0 ? [] : await store.getObjects(state.entries.map((e) => e.id));
        objects.sort((a, b) => b.sequence_id - a.sequence_id);
        return reply.serialize(objects) as string;
      });
      return reply.type('application/json; charset=utf-8').send(body);
    },
  );
}
