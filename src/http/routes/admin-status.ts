/** Admin overviews: generators, sync status and errors, the fleet status, and the change counter the dashboard long-polls. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { SyncError } from '../../store/records.js';
import type { Store } from '../../store/store.js';
import type { ServerContext } from '../context.js';
import type { RepositoryState, StatusOverview, SyncStatus } from '../status-answers.js';
import { arrayOf, digits, syncErrorSchema, syncStateSchema, waitParam } from '../schemas.js';
import { conditionOf } from '../../sync/failure-class.js';
import { ADMIN, responses } from './route-kit.js';

const tags = ['status'];

/**
 * Sync states with the name of the generator (repository) they belong to, their condition
 * (synced, retrying, or stalled with what to do), and whether this daemon still syncs it: a
 * removed repository's stacks stay (agents keep them), marked orphaned.
 */
async function repositories(store: Store, control: ServerContext['repositories']): Promise<RepositoryState[]> {
  const [states, generators] = await Promise.all([store.listSyncStates(), store.listGenerators()]);
  const names = new Map(generators.map((g) => [g.id, g.name]));
  return states.map((s) => ({
    ...s,
    ...conditionOf(s),
    generator_name: names.get(s.generator_id) ?? null,
    orphaned: control ? control.find({ generatorId: s.generator_id }) === null : false,
  }));
}

/** How many distinct stacks have recorded errors. */
const invalidStacks = (errors: SyncError[]) => new Set(errors.map((e) => `${e.generator_id}\u0000${e.stack_path}`)).size;

const statusAgentSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    cluster_name: { type: 'string' },
    status: { type: 'string' },
    last_heartbeat: { type: ['string', 'null'] },
    heartbeat_age_seconds: { type: ['number', 'null'], description: 'Seconds since the last heartbeat, null if never' },
    pending: { type: 'integer', description: 'Target-state objects without a SUCCESS event' },
    failed: { type: 'integer', description: 'Target-state objects whose last event is a FAILURE' },
  },
} as const;

export function adminStatusRoutes(parent: FastifyInstance, ctx: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  const { store, feed } = ctx;

  app.get(
    '/sync/status',
    {
      schema: {
        summary: 'Sync readiness, cursor per repository, and per-stack errors with file and line',
        tags,
        response: responses(
          {
            200: {
              type: 'object',
              properties: { ready: { type: 'boolean' }, repositories: arrayOf(syncStateSchema), errors: arrayOf(syncErrorSchema) },
            },
          },
          [403],
        ),
      },
      config: { access: ADMIN },
    },
    async (): Promise<SyncStatus> => {
      const [repos, errors] = await Promise.all([repositories(store, ctx.repositories), store.listSyncErrors()]);
      return { ready: ctx.syncer?.isReady() ?? false, repositories: repos, errors };
    },
  );

  app.get(
    '/status',
    {
      schema: {
        summary: 'Overview: repositories, stack counts, errors, and every agent with its delivery state',
        tags,
        response: responses(
          {
            200: {
              type: 'object',
              properties: {
                ready: { type: 'boolean' },
                repositories: arrayOf(syncStateSchema),
                stacks: { type: 'object', properties: { total: { type: 'integer' }, invalid: { type: 'integer' } } },
                errors: arrayOf(syncErrorSchema),
                agents: arrayOf(statusAgentSchema),
              },
            },
          },
          [403],
        ),
      },
      config: { access: ADMIN },
    },
    async (): Promise<StatusOverview> => {
      const [repos, errors, stacks, agents, delivery] = await Promise.all([
        repositories(store, ctx.repositories),
        store.listSyncErrors(),
        store.listStacks(),
        store.listAgents(),
        store.agentDeliverySummary(),
      ]);
      const byAgent = new Map(delivery.map((d) => [d.agent_id, d]));
      const now = Date.now();
      return {
        ready: ctx.syncer?.isReady() ?? false,
        repositories: repos,
        stacks: { total: stacks.length, invalid: invalidStacks(errors) },
        errors,
        agents: agents.map((a) => ({
          id: a.id,
          name: a.name,
          cluster_name: a.cluster_name,
          status: a.status,
          last_heartbeat: a.last_heartbeat,
          heartbeat_age_seconds: a.last_heartbeat ? Math.max(0, Math.round((now - Date.parse(a.last_heartbeat)) / 1000)) : null,
          pending: byAgent.get(a.id)?.pending ?? 0,
          failed: byAgent.get(a.id)?.failed ?? 0,
        })),
      };
    },
  );

  app.get(
    '/changes',
    {
      schema: {
        summary: 'Long poll for any change: answers {version} once version > since, or when wait runs out',
        tags,
        querystring: Type.Object({ since: Type.Optional(digits('a version number previously returned', 15)), wait: Type.Optional(waitParam) }),
        response: responses({ 200: { type: 'object', properties: { version: { type: 'integer' } } } }, [400, 403]),
      },
      config: { access: ADMIN },
    },
    async (request, reply) => {
      const q = request.query;
      // A `since` ahead of the counter comes from before a restart: answer at once so the client resyncs.
      if (q.since !== undefined && Number(q.since) <= feed.version && !ctx.closing) {
        const controller = new AbortController();
        reply.raw.once('close', () => controller.abort());
        await feed.waitFor(Number(q.since), Number(q.wait ?? '0') * 1000, controller.signal);
      }
      return { version: feed.version };
    },
  );
}
