/**
 * An agent's labels, annotations and targets: read by admins and the agent itself, changed by
 * admins. Every change may change what the agent must deploy, so it wakes its long polls.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { checkAnnotation, checkLabel } from '../../manifest/rules.js';
import type { ServerContext } from '../context.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { annotationWire, labelWire } from '../metadata-wire.js';
import { agentAnnotationSchema, agentLabelSchema, arrayOf, idParams, shortText, targetSchema, uuidText } from '../schemas.js';
import { ADMIN, ADMIN_OR_SELF, agentOr404, bodyAgentId, checkBodyAgentId, noContent, responses } from './route-kit.js';
import { auditContext } from '../audit-context.js';

export function agentMetadataRoutes(parent: FastifyInstance, { store }: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  const read = (summary: string, item: unknown) => ({
    schema: { summary, tags: ['agent metadata'], params: idParams, response: responses({ 200: arrayOf(item) }, [400, 403, 404]) },
    config: { access: ADMIN_OR_SELF },
  });
  const write = <Body extends TSchema>(summary: string, body: Body, item: unknown) => ({
    schema: { summary, tags: ['agent metadata'], params: idParams, body, response: responses({ 201: item }, [400, 403, 404, 409, 413, 415]) },
    config: { access: ADMIN },
  });
  const remove = <Params extends TSchema>(summary: string, params: Params) => ({
    schema: { summary, tags: ['agent metadata'], params, response: responses({ 204: noContent }, [400, 403, 404]) },
    config: { access: ADMIN },
  });
  // --- labels ---
  app.get('/agents/:id/labels', read('The agent’s labels', agentLabelSchema), async (request) => {
    await agentOr404(store, request.params.id);
    return (await store.listLabels('agent', request.params.id)).map((l) => labelWire('agent', l));
  });
  app.post(
    '/agents/:id/labels',
    write('Add a label', Type.Object({ label: shortText, agent_id: Type.Optional(bodyAgentId) }, { additionalProperties: false }), agentLabelSchema),
    async (request, reply) => {
      const id = request.params.id;
      const { label, agent_id } = request.body;
      checkBodyAgentId(agent_id, id);
      const problem = checkLabel(label);
      if (problem) throw badRequest(`body.label: ${problem}`);
      await agentOr404(store, id);
      const created = await store.addLabel('agent', id, label, auditContext(request));
      return reply.code(201).send(labelWire('agent', created));
    },
  );
  app.delete('/agents/:id/labels/:label', remove('Remove a label', Type.Object({ id: uuidText, label: shortText })), async (request, reply) => {
    const { id, label } = request.params;
    await agentOr404(store, id);
    if (!(await store.removeLabel('agent', id, label, auditContext(request)))) throw notFound(`agent ${id} has no label ${JSON.stringify(label)}`);
    return reply.code(204).send();
  });

  // --- annotations ---
  app.get('/agents/:id/annotations', read('The agent’s annotations', agentAnnotationSchema), async (request) => {
    await agentOr404(store, request.params.id);
    return (await store.listAnnotations('agent', request.params.id)).map((a) => annotationWire('agent', a));
  });
  app.post(
    '/agents/:id/annotations',
    write(
      'Set an annotation (replaces the value of an existing key)',
      Type.Object({ key: shortText, value: shortText, agent_id: Type.Optional(bodyAgentId) }, { additionalProperties: false }),
      agentAnnotationSchema,
    ),
    async (request, reply) => {
      const id = request.params.id;
      const { key, value, agent_id } = request.body;
      checkBodyAgentId(agent_id, id);
      const problem = checkAnnotation(key, value);
      if (problem) throw badRequest(`body: ${problem}`);
      await agentOr404(store, id);
      const saved = await store.setAnnotation('agent', id, key, value, auditContext(request));
      return reply.code(201).send(annotationWire('agent', saved));
    },
  );
  app.delete('/agents/:id/annotations/:key', remove('Remove an annotation', Type.Object({ id: uuidText, key: shortText })), async (request, reply) => {
    const { id, key } = request.params;
    await agentOr404(store, id);
    if (!(await store.removeAnnotation('agent', id, key, auditContext(request)))) throw notFound(`agent ${id} has no annotation ${JSON.stringify(key)}`);
    return reply.code(204).send();
  });

  // --- targets ---
  app.get('/agents/:id/targets', read('The agent’s explicit targets', targetSchema), async (request) => {
    await agentOr404(store, request.params.id);
    return store.listTargets(request.params.id);
  });
  app.post(
    '/agents/:id/targets',
    write('Target a stack explicitly', Type.Object({ stack_id: uuidText, agent_id: Type.Optional(bodyAgentId) }, { additionalProperties: false }), targetSchema),
    async (request, reply) => {
      const id = request.params.id;
      const body = request.body;
      checkBodyAgentId(body.agent_id, id);
      const stackId = body.stack_id.toLowerCase();
      await agentOr404(store, id);
      const stack = await store.getStack(stackId);
      if (!stack) throw notFound(`no stack ${stackId}`);
      if (stack.deleted_at) throw conflict(`stack ${stack.name} was deleted at ${stack.deleted_at}; it cannot be targeted`);
      const target = await store.addTarget(id, stackId, auditContext(request));
      return reply.code(201).send(target);
    },
  );
  app.delete('/agents/:id/targets/:stack_id', remove('Stop targeting a stack', Type.Object({ id: uuidText, stack_id: uuidText })), async (request, reply) => {
    const { id, stack_id } = request.params;
    await agentOr404(store, id);
    if (!(await store.removeTarget(id, stack_id.toLowerCase(), auditContext(request)))) throw notFound(`agent ${id} does not target stack ${stack_id}`);
    return reply.code(204).send();
  });
}
