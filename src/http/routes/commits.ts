/** `GET /commits/{sha}`: where a commit is in the fleet — what CI waits for (`brokkr-sync wait`). */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { commitStatus, DELIVERY_STATES } from '../commit-status.js';
import { boolParam } from '../schemas.js';
import { ADMIN, isTrue, responses } from './route-kit.js';

const uuid = { type: 'string', format: 'uuid' } as const;
const nullableInt = { type: ['integer', 'null'] } as const;
const state = { type: 'string', enum: [...DELIVERY_STATES] } as const;

const agentDelivery = {
  type: 'object',
  required: ['agent_id', 'agent_name', 'cluster_name', 'released', 'waiting_on', 'state', 'applied_sequence_id', 'message', 'health'],
  properties: {
    agent_id: uuid,
    agent_name: { type: 'string' },
    cluster_name: { type: 'string' },
    released: {
      type: 'boolean',
      description: 'Whether the commit’s object is released to this agent: its rollout wave got this object or a later one, and no dependency (dependsOn) holds it back there',
    },
    waiting_on: {
      type: 'array',
      items: { type: 'string' },
      description: 'The stacks (dependsOn) that must pass the gate on this agent before it gets the object; empty when none',
    },
    state,
    applied_sequence_id: { ...nullableInt, description: 'The newest object (this commit’s or later) the agent reported SUCCESS for' },
    message: { type: ['string', 'null'], description: 'Why it failed' },
    health: {
      type: ['object', 'null'],
      properties: { status: { type: 'string' }, summary: { type: ['string', 'null'] }, checked_at: { type: 'string' } },
    },
  },
} as const;

const commitResponse = {
  type: 'object',
  required: ['sha', 'subject', 'state', 'healthy_required', 'counts', 'stacks'],
  properties: {
    sha: { type: 'string' },
    subject: { type: ['string', 'null'] },
    state: { type: 'string', enum: [...DELIVERY_STATES, 'healthy'], description: 'failed (an agent failed, or a rollout is halted), pending, applied; healthy when asked for and every applied object is healthy' },
    healthy_required: { type: 'boolean' },
    counts: { type: 'object', properties: Object.fromEntries(DELIVERY_STATES.map((s) => [s, { type: 'integer' }])) },
    stacks: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          stack_id: uuid,
          stack_name: { type: 'string' },
          object_id: uuid,
          sequence_id: { type: 'integer' },
          is_deletion_marker: { type: 'boolean' },
          latest_sequence_id: nullableInt,
          halt_reason: { type: ['string', 'null'], description: 'Why the stack’s rollout is halted on this commit’s object or a later one (the commit is then failed); null when it is not' },
          agents: { type: 'array', items: agentDelivery },
        },
      },
    },
  },
} as const;

export function commitRoutes(parent: FastifyInstance, { store }: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/commits/:sha',
    {
      schema: {
        summary: 'Per stack a commit changed and per associated agent: released, applied, failed (with the message), health; and the overall state',
        tags: ['commits'],
        params: Type.Object({ sha: Type.String({ pattern: '^[0-9a-fA-F]{7,40}$', description: 'a full commit sha or a unique prefix of at least 7 hex digits' }) }),
        querystring: Type.Object({ healthy: Type.Optional({ ...boolParam, description: 'also require every applied object to be reported healthy' }) }),
        response: responses({ 200: commitResponse }, [400, 403, 404]),
      },
      config: { access: ADMIN },
    },
    async (request) => {
      const prefix = request.params.sha.toLowerCase();
      const healthy = isTrue(request.query.healthy);
      const objects = await store.findCommitObjects(prefix);
      const shas = [...new Set(objects.map((o) => o.commit_sha))];
      if (shas.length > 1) throw badRequest(`${prefix} is ambiguous: it starts ${shas.slice(0, 5).join(', ')}${shas.length > 5 ? ', …' : ''}; give more of the sha`);
      if (shas.length === 1) return commitStatus(store, shas[0]!, objects, { healthy });
      // A commit that changed no stack has no objects; once it is a repository's cursor there is nothing to wait for.
      const synced = (await store.listSyncStates()).find((s) => s.cursor_commit?.startsWith(prefix));
      if (synced?.cursor_commit) return commitStatus(store, synced.cursor_commit, [], { healthy });
      throw notFound(
        `no deployment object comes from commit ${prefix}: it is not synced yet (not pushed, or the daemon has not fetched it), it changed no stack, or no repository the daemon syncs has it`,
      );
    },
  );
}
