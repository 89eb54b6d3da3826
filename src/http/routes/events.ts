/** Agent events: an agent reports what it did with an object (DEPLOY/DELETE, SUCCESS/FAILURE); admins list them. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { EVENT_STATUSES, EVENT_TYPES } from '../../store/records.js';
import type { ServerContext } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { arrayOf, digits, eventSchema, idParams, uuidText } from '../schemas.js';
import { ADMIN, ADMIN_OR_SELF, agentOr404, bodyAgentId, checkBodyAgentId, responses } from './route-kit.js';

/** Longest event message kept (a failing `kubectl apply` can be chatty; the body limit caps the rest). */
const MAX_MESSAGE = 64 * 1024;

const eventBody = Type.Object(
  {
    deployment_object_id: uuidText,
    event_type: Type.Unsafe<string>({ type: 'string', enum: [...EVENT_TYPES], description: 'DEPLOY or DELETE (uppercase)' }),
    status: Type.Unsafe<string>({ type: 'string', enum: [...EVENT_STATUSES], description: 'SUCCESS or FAILURE (uppercase)' }),
    message: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: MAX_MESSAGE })),
    agent_id: Type.Optional(bodyAgentId),
  },
  { additionalProperties: false },
);

const limit = digits('a whole number of events from 1', 6);
const limitQuery = Type.Object({ limit: Type.Optional(limit) });

function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (n < 1) throw badRequest('querystring.limit must be at least 1');
  return n;
}

export function eventRoutes(parent: FastifyInstance, { store }: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/agents/:id/events',
    {
      schema: {
        summary: 'Report an event for a deployment object of an associated stack',
        tags: ['events'],
        params: idParams,
        body: eventBody,
        response: responses({ 201: eventSchema }, [400, 403, 404, 413, 415]),
      },
      config: { access: ADMIN_OR_SELF },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { body } = request;
      checkBodyAgentId(body.agent_id, id);
      if (request.principal?.role !== 'agent') await agentOr404(store, id);
      // The object must exist (404) and belong to a stack the agent holds (403): the store checks both as it writes the event.
      const event = await store.createEvent({
        agent_id: id,
        deployment_object_id: body.deployment_object_id.toLowerCase(),
        event_type: body.event_type,
        status: body.status,
        message: body.message ?? null,
        require_association: true,
      });
      return reply.code(201).send(event);
    },
  );

  app.get(
    '/agents/:id/events',
    {
      schema: {
        summary: 'The agent’s events, newest first',
        tags: ['events'],
        params: idParams,
        querystring: limitQuery,
        response: responses({ 200: arrayOf(eventSchema) }, [400, 403, 404]),
      },
      config: { access: ADMIN_OR_SELF },
    },
    async (request) => {
      const { id } = request.params;
      if (request.principal?.role !== 'agent') await agentOr404(store, id);
      return store.listEvents({ agentId: id, limit: parseLimit(request.query.limit) });
    },
  );

  const listAll = (url: string, summary: string) => app.get(
    url,
    {
      schema: {
        summary,
        tags: ['events'],
        querystring: Type.Object({ agent_id: Type.Optional(uuidText), deployment_object_id: Type.Optional(uuidText), limit: Type.Optional(limit) }),
        response: responses({ 200: arrayOf(eventSchema) }, [400, 403]),
      },
      config: { access: ADMIN },
    },
    async (request) => {
      const q = request.query;
      return store.listEvents({
        agentId: q.agent_id?.toLowerCase(),
        deploymentObjectId: q.deployment_object_id?.toLowerCase(),
        limit: parseLimit(q.limit),
      });
    },
  );
  listAll('/events', 'Events of all agents (or one), newest first');
  listAll('/agent-events', 'brokkr v1’s name for GET /events');

  app.get(
    '/agent-events/:id',
    {
      schema: { summary: 'One event by id (brokkr v1)', tags: ['events'], params: idParams, response: responses({ 200: eventSchema }, [400, 403, 404]) },
      config: { access: ADMIN },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      const event = await store.getEvent(id);
      if (!event) throw notFound(`no event ${id}`);
      return event;
    },
  );

  /*
   * brokkr's own agent also asks for work orders, outbound webhook deliveries and diagnostics
   * addressed to it. brokkr-sync has none of those, so the answer is always an empty list: the
   * agent runs unchanged instead of logging a 404 on every poll.
   */
  const nothingPending = (url: string, param: string, what: string, access: typeof ADMIN) =>
    app.get(
      url,
      {
        schema: {
          summary: `brokkr v1: ${what} pending for the agent (always none here)`,
          tags: ['agents'],
          params: Type.Object({ [param]: uuidText }),
          response: responses({ 200: { type: 'array', maxItems: 0, items: {} } }, [400, 403, 404]),
        },
        config: { access },
      },
      async (request) => {
        const agentId = request.params[param]!.toLowerCase();
        await agentOr404(store, agentId);
        return [];
      },
    );
  nothingPending('/agents/:agent_id/work-orders/pending', 'agent_id', 'work orders', { roles: ['admin', 'agent'], self: 'agent_id' });
  nothingPending('/agents/:agent_id/webhooks/pending', 'agent_id', 'webhook deliveries', { roles: ['admin', 'agent'], self: 'agent_id' });
  nothingPending('/agents/:id/diagnostics/pending', 'id', 'diagnostic requests', ADMIN_OR_SELF);
}
