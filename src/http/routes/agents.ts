/** Agent-facing agent routes: find an agent, read one, its associated stacks, and heartbeats. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { forbidden, notFound } from '../errors.js';
import { agentSchema, arrayOf, heartbeatReportSchema, idParams, nameText, stackSchema } from '../schemas.js';

/** brokkr's Stack plus `depends_on` (an extra field brokkr's clients ignore): the names of the stacks delivered first (SPEC §10). */
const agentStackSchema = {
  ...stackSchema,
  properties: { ...stackSchema.properties, depends_on: { type: 'array', items: { type: 'string' }, description: 'stack.yaml dependsOn: names of the stacks applied first, per agent' } },
};
import { ADMIN_OR_SELF, SELF_ONLY, agentOr404, noContent, responses } from './route-kit.js';

const findQuery = Type.Object({ name: Type.Optional(nameText), cluster_name: Type.Optional(nameText) });

export function agentRoutes(parent: FastifyInstance, { store }: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  const list = {
    schema: {
      summary: 'List agents, optionally filtered by name and/or cluster (an agent sees only itself)',
      tags: ['agents'],
      querystring: findQuery,
      response: responses({ 200: arrayOf(agentSchema) }, [400, 403]),
    },
    config: { access: { roles: ['admin', 'agent'] as const } },
  };
  app.get('/agents', list, async (request) => {
    const { name, cluster_name } = request.query;
    const agents = await store.listAgents({ name, cluster_name });
    const p = request.principal;
    return p?.role === 'agent' ? agents.filter((a) => a.id === p.agent.id) : agents;
  });

  // brokkr v1's search (`/agents/` with a trailing slash): both parameters, one agent or 404, as
  // brokkr's own agents expect; another agent's record is 403, like every other agent route.
  app.get(
    '/agents/',
    {
      schema: {
        summary: 'Find the agent with this name in this cluster (brokkr v1 search)',
        tags: ['agents'],
        querystring: Type.Object({ name: nameText, cluster_name: nameText }),
        response: responses({ 200: agentSchema }, [400, 403, 404]),
      },
      config: { access: { roles: ['admin', 'agent'] as const } },
    },
    async (request) => {
      const { name, cluster_name } = request.query;
      const [agent] = await store.listAgents({ name, cluster_name });
      if (!agent) throw notFound(`no agent named ${JSON.stringify(name)} in cluster ${JSON.stringify(cluster_name)}`);
      const p = request.principal;
      if (p?.role === 'agent' && p.agent.id !== agent.id) throw forbidden('an agent may only look up itself');
      return agent;
    },
  );

  app.get(
    '/agents/:id',
    {
      schema: { summary: 'One agent', tags: ['agents'], params: idParams, response: responses({ 200: agentSchema }, [400, 403, 404]) },
      config: { access: ADMIN_OR_SELF },
    },
    async (request) => agentOr404(store, request.params.id),
  );

  app.post(
    '/agents/:id/heartbeat',
    {
      schema: {
        summary: 'Record a heartbeat: sets last_heartbeat and status ACTIVE; an optional report keeps the agent’s Kubernetes reachability',
        tags: ['agents'],
        params: idParams,
        body: heartbeatReportSchema,
        response: responses({ 204: noContent }, [400, 403, 404]),
      },
      config: { access: SELF_ONLY },
      // A bodiless heartbeat (brokkr's legacy one, and ours) is an empty report.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => {
      const report = request.body;
      // As brokkr does: only a report that says whether the API is reachable replaces the kept
      // values; no body, `{}` or `k8s_reachable: null` leaves them as they were.
      const reachable = typeof report?.k8s_reachable === 'boolean';
      await store.recordHeartbeat(
        request.params.id,
        reachable ? { k8s_reachable: report!.k8s_reachable, k8s_api_latency_ms: report!.k8s_api_latency_ms ?? null } : undefined,
      );
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
        response: responses({ 200: arrayOf(agentStackSchema) }, [400, 403, 404]),
      },
      config: { access: ADMIN_OR_SELF },
    },
    async (request) => {
      const { id } = request.params;
      await agentOr404(store, id);
      const stacks = await store.listAgentStacks(id);
      // dependsOn (SPEC §10) for the reference agent's apply order: one read per repository.
      const dependsOn = new Map<string, string[]>();
      for (const generatorId of new Set(stacks.map((s) => s.generator_id))) {
        for (const s of await store.listSyncedStacks(generatorId)) if (s.rollout?.depends_on.length) dependsOn.set(s.id, s.rollout.depends_on);
      }
      return stacks.map((s) => ({ ...s, depends_on: dependsOn.get(s.id) ?? [] }));
    },
  );
}
