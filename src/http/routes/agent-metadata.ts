/**
 * An agent's labels, annotations and targets: read by admins and the agent itself, changed by
 * admins. Every change may change what the agent must deploy, so it wakes its long polls.
 */
import type { FastifyInstance } from 'fastify';
import { checkAnnotation, checkLabel } from '../../manifest/rules.js';
import type { ServerContext } from '../context.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { annotationWire, labelWire } from '../metadata-wire.js';
import { agentAnnotationSchema, agentLabelSchema, arrayOf, idParams, shortText, targetSchema } from '../schemas.js';
import { ADMIN, ADMIN_OR_SELF, agentOr404, bodyAgentId, checkBodyAgentId, noContent, responses } from './route-kit.js';
import { auditContext } from '../audit-context.js';

const uuid = { type: 'string', format: 'uuid' } as const;
const paramsWith = (name: string, schema: unknown) => ({
  type: 'object',
  required: ['id', name],
  properties: { id: uuid, [name]: schema },
});

export function agentMetadataRoutes(app: FastifyInstance, { store }: ServerContext): void {
  const read = (summary: string, item: unknown) => ({
    schema: { summary, tags: ['agent metadata'], params: idParams, response: responses({ 200: arrayOf(item) }, [400, 403, 404]) },
    config: { access: ADMIN_OR_SELF },
  });
  const write = (summary: string, body: unknown, item: unknown) => ({
    schema: { summary, tags: ['agent metadata'], params: idParams, body, response: responses({ 201: item }, [400, 403, 404, 409, 413, 415]) },
    config: { access: ADMIN },
  });
  const remove = (summary: string, params: unknown) => ({
    schema: { summary, tags: ['agent metadata'], params, response: responses({ 204: noContent }, [400, 403, 404]) },
    config: { access: ADMIN },
  });
  const idOf = (request: { params: unknown }) => (request.params as { id: string }).id;

  // --- labels ---
  app.get('/agents/:id/labels', read('The agent’s labels', agentLabelSchema), async (request) => {
    await agentOr404(store, idOf(request));
    return (await store.listLabels('agent', idOf(request))).map((l) => labelWire('agent', l));
  });
  app.post(
    '/agents/:id/labels',
    write('Add a label', { type: 'object', required: ['label'], additionalProperties: false, properties: { label: shortText, agent_id: bodyAgentId } }, agentLabelSchema),
    async (request, reply) => {
      const id = idOf(request);
      const { label, agent_id } = request.body as { label: string; agent_id?: string };
      checkBodyAgentId(agent_id, id);
      const problem = checkLabel(label);
      if (problem) throw badRequest(`body.label: ${problem}`);
      await agentOr404(store, id);
      const created = await store.addLabel('agent', id, label, auditContext(request));
      return reply.code(201).send(labelWire('agent', created));
    },
  );
  app.delete('/agents/:id/labels/:label', remove('Remove a label', paramsWith('label', shortText)), async (request, reply) => {
    const { id, label } = request.params as { id: string; label: string };
    await agentOr404(store, id);
    if (!(await store.removeLabel('agent', id, label, auditContext(request)))) throw notFound(`agent ${id} has no label ${JSON.stringify(label)}`);
    return reply.code(204).send();
  });

  // --- annotations ---
  app.get('/agents/:id/annotations', read('The agent’s annotations', agentAnnotationSchema), async (request) => {
    await agentOr404(store, idOf(request));
    return (await store.listAnnotations('agent', idOf(request))).map((a) => annotationWire('agent', a));
  });
  app.post(
    '/agents/:id/annotations',
    write(
      'Set an annotation (replaces the value of an existing key)',
      { type: 'object', required: ['key', 'value'], additionalProperties: false, properties: { key: shortText, value: shortText, agent_id: bodyAgentId } },
      agentAnnotationSchema,
    ),
    async (request, reply) => {
      const id = idOf(request);
      const { key, value, agent_id } = request.body as { key: string; value: string; agent_id?: string };
      checkBodyAgentId(agent_id, id);
      const problem = checkAnnotation(key, value);
      if (problem) throw badRequest(`body: ${problem}`);
      await agentOr404(store, id);
      const saved = await store.setAnnotation('agent', id, key, value, auditContext(request));
      return reply.code(201).send(annotationWire('agent', saved));
    },
  );
  app.delete('/agents/:id/annotations/:key', remove('Remove an annotation', paramsWith('key', shortText)), async (request, reply) => {
    const { id, key } = request.params as { id: string; key: string };
    await agentOr404(store, id);
    if (!(await store.removeAnnotation('agent', id, key, auditContext(request)))) throw notFound(`agent ${id} has no annotation ${JSON.stringify(key)}`);
    return reply.code(204).send();
  });

  // --- targets ---
  app.get('/agents/:id/targets', read('The agent’s explicit targets', targetSchema), async (request) => {
    await agentOr404(store, idOf(request));
    return store.listTargets(idOf(request));
  });
  app.post(
    '/agents/:id/targets',
    write('Target a stack explicitly', { type: 'object', required: ['stack_id'], additionalProperties: false, properties: { stack_id: uuid, agent_id: bodyAgentId } }, targetSchema),
    async (request, reply) => {
      const id = idOf(request);
      const body = request.body as { stack_id: string; agent_id?: string };
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
  app.delete('/agents/:id/targets/:stack_id', remove('Stop targeting a stack', paramsWith('stack_id', uuid)), async (request, reply) => {
    const { id, stack_id } = request.params as { id: string; stack_id: string };
    await agentOr404(store, id);
    if (!(await store.removeTarget(id, stack_id.toLowerCase(), auditContext(request)))) throw notFound(`agent ${id} does not target stack ${stack_id}`);
    return reply.code(204).send();
  });
}
