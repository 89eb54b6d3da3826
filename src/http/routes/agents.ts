/** Agent-facing agent routes: find an agent, read one, its associated stacks, and heartbeats. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { notFound } from '../errors.js';
import { agentSchema, arrayOf, idParams, nameText, stackSchema } from '../schemas.js';
import { ADMIN_OR_SELF, SELF_ONLY, noContent, responses } from './route-kit.js';

const findQuery = {
  type: 'object',
  properties: { name: nameText, cluster_name: nameText },
} as const;

export function agentRoutes(app: FastifyInstance, { store }: ServerContext): void {
  /** Throws 404 unless the (non-deleted) agent exists. */
  const agentOr404 = async (id: string) => {
    const agent = await store.getAgent(id);
    if (!agent) throw notFound(`no agent ${id}`);
    return agent;
  };

  const find = {
    schema: {
      summary: 'Find agents by name and/or cluster (an agent sees only itself)',
      tags: ['agents'],
      querystring: findQuery,
      response: responses({ 200: arrayOf(agentSchema) }, [400, 403]),
    },
    config: { access: { roles: ['admin', 'agent'] as const } },
  };
  const handler = async (request: FastifyRequest) => {
    const { name, cluster_name } = request.query as { name?: string; cluster_name?: string };
    const agents = await store.listAgents({ name, cluster_name });
    const p = request.principal;
    return p?.role === 'agent' ? agents.filter((a) => a.id === p.agent.id) : agents;
  };
  // brokkr serves the search at `/agents/` and the admin list at `/agents`; both answer the same way here.
  app.get('/agents', find, handler);
  app.get('/agents/', find, handler);

  app.get(
    '/agents/:id',
    {
      schema: { summary: 'One agent', tags: ['agents'], params: idParams, response: responses({ 200: agentSchema }, [400, 403, 404]) },
      config: { access: ADMIN_OR_SELF },
    },
    async (request) => agentOr404((request.params as { id: string }).id),
  );

  app.post(
    '/agents/:id/heartbeat',
    {
      schema: {
        summary: 'Record a heartbeat: sets last_heartbeat and status ACTIVE',
        tags: ['agents'],
        params: idParams,
        response: responses({ 204: noContent }, [400, 403, 404]),
      },
      config: { access: SELF_ONLY },
    },
    async (request, reply) => {
      await store.recordHeartbeat((request.params as { id: string }).id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/agents/:id/stacks',
    {
      schema: {
        summary: 'Stacks associated with the agent (targets, label match, annotation match)',
        tags: ['agents'],
        params: idParams,
        response: responses({ 200: arrayOf(stackSchema) }, [400, 403, 404]),
      },
      config: { access: ADMIN_OR_SELF },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      await agentOr404(id);
      return store.listAgentStacks(id);
    },
  );
}
