/** Progressive delivery for admins (SPEC §10): a stack's rollout, promote / pause / resume, and rollback. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { badRequest } from '../errors.js';
import { idParams } from '../schemas.js';
import { ROLLOUT_ACTIONS, type RolloutAction } from '../../store/rollout-records.js';
import { ADMIN, ADMIN_OR_GENERATOR, responses } from './route-kit.js';
import { auditContext } from '../audit-context.js';

const tags = ['rollouts'];

const objectRef = {
  type: ['object', 'null'],
  properties: { id: { type: 'string' }, sequence_id: { type: 'number' }, is_deletion_marker: { type: 'boolean' } },
} as const;

/** The rollout as GET answers it (and every action, after it took effect). */
export const rolloutSchema = {
  type: 'object',
  properties: {
    stack_id: { type: 'string' },
    stack_name: { type: 'string' },
    gate: { type: 'string', enum: ['success', 'healthy'] },
    depends_on: { type: 'array', items: { type: 'string' } },
    target: objectRef,
    paused: { type: 'boolean' },
    halted: { type: 'boolean' },
    halt_reason: { type: ['string', 'null'] },
    waves: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          index: { type: 'number' },
          implicit: { type: 'boolean' },
          labels: { type: 'array', items: { type: 'string' } },
          annotations: { type: 'object', additionalProperties: { type: 'string' } },
          released: objectRef,
          agents: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                id: { type: 'string' },
                name: { type: 'string' },
                cluster_name: { type: 'string' },
                gate: { type: 'string', enum: ['passed', 'failed', 'pending'] },
                message: { type: ['string', 'null'] },
              },
            },
          },
        },
      },
    },
    rollback: {
      type: ['object', 'null'],
      properties: {
        deployment_object_id: { type: 'string' },
        source_object_id: { type: 'string' },
        source_sequence_id: { type: 'number' },
        replaced_object_id: { type: ['string', 'null'] },
        replaced_sequence_id: { type: ['number', 'null'] },
        actor: { type: 'string' },
        created_at: { type: 'string' },
      },
    },
  },
} as const;

export function rolloutRoutes(parent: FastifyInstance, { store }: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/stacks/:id/rollout',
    {
      schema: { summary: 'The stack’s rollout: waves, agents per wave, released object per wave, gate state, halt reason', tags, params: idParams, response: responses({ 200: rolloutSchema }, [400, 403, 404]) },
      config: { access: ADMIN_OR_GENERATOR },
    },
    async (request) => store.getRollout(request.params.id),
  );

  for (const action of ROLLOUT_ACTIONS) {
    const what: Record<RolloutAction, string> = {
      promote: 'Release the next wave now (lifts a halt)',
      pause: 'Release nothing new until resume',
      resume: 'Lift a pause or halt and release the newest object from wave 1',
    };
    app.post(
      `/stacks/:id/rollout/${action}`,
      {
        schema: { summary: what[action], tags, params: idParams, response: responses({ 200: rolloutSchema }, [400, 403, 404]) },
        config: { access: ADMIN },
      },
      async (request) => store.rolloutAction(request.params.id, action, auditContext(request)),
    );
  }

  app.post(
    '/stacks/:id/rollback',
    {
      schema: {
        summary: 'A new object with the content of object `to_sequence`, released to every wave at once; the stack is paused',
        tags,
        params: idParams,
        body: Type.Object({ to_sequence: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
        response: responses(
          { 201: { type: 'object', properties: { object: objectRef, rollout: rolloutSchema } } },
          [400, 403, 404, 409],
        ),
      },
      config: { access: ADMIN },
    },
    async (request, reply) => {
      const { to_sequence } = request.body;
      if (!Number.isSafeInteger(to_sequence)) throw badRequest('body.to_sequence must be a whole number');
      const audit = auditContext(request);
      const result = await store.rollback(request.params.id, to_sequence, audit.actor ?? 'admin', audit);
      reply.code(201);
      return { object: { ...result.object, is_deletion_marker: false }, rollout: result.rollout };
    },
  );
}
