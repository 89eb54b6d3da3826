/** Agent events: an agent reports what it did with an object (DEPLOY/DELETE, SUCCESS/FAILURE); admins list them. */
import type { FastifyInstance } from 'fastify';
import { EVENT_STATUSES, EVENT_TYPES } from '../../store/records.js';
import type { ServerContext } from '../context.js';
import { badRequest, forbidden, notFound } from '../errors.js';
import { arrayOf, digits, eventSchema, idParams } from '../schemas.js';
import { ADMIN, ADMIN_OR_SELF, agentOr404, bodyAgentId, checkBodyAgentId, responses } from './route-kit.js';

const uuid = { type: 'string', format: 'uuid' } as const;
/** Longest event message kept (a failing `kubectl apply` can be chatty; the body limit caps the rest). */
const MAX_MESSAGE = 64 * 1024;

const eventBody = {
  type: 'object',
  required: ['deployment_object_id', 'event_type', 'status'],
  additionalProperties: false,
  properties: {
    deployment_object_id: uuid,
    event_type: { type: 'string', enum: [...EVENT_TYPES], description: 'DEPLOY or DELETE (uppercase)' },
    status: { type: 'string', enum: [...EVENT_STATUSES], description: 'SUCCESS or FAILURE (uppercase)' },
    message: { type: ['string', 'null'], maxLength: MAX_MESSAGE },
    agent_id: bodyAgentId,
  },
} as const;

const limitQuery = { type: 'object', properties: { limit: digits('a whole number of events from 1', 6) } } as const;

function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (n < 1) throw badRequest('querystring.limit must be at least 1');
  return n;
}

export function eventRoutes(app: FastifyInstance, { store }: ServerContext): void {
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
      const { id } = request.params as { id: string };
      const body = request.body as {
        deployment_object_id: string;
        event_type: string;
        status: string;
        message?: string | null;
        agent_id?: string;
      };
      checkBodyAgentId(body.agent_id, id);
      if (request.principal?.role !== 'agent') await agentOr404(store, id);
      const objectId = body.deployment_object_id.toLowerCase();
      const object = await store.getObject(objectId);
      if (!object) throw notFound(`no deployment object ${objectId}`);
      if (!(await store.isStackAssociated(id, object.stack_id))) {
        throw forbidden(`deployment object ${objectId} belongs to a stack that is not associated with agent ${id}`);
      }
      const event = await store.createEvent({
        agent_id: id,
        deployment_object_id: objectId,
        event_type: body.event_type,
        status: body.status,
        message: body.message ?? null,
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
      const { id } = request.params as { id: string };
      if (request.principal?.role !== 'agent') await agentOr404(store, id);
      return store.listEvents({ agentId: id, limit: parseLimit((request.query as { limit?: string }).limit) });
    },
  );

  const listAll = (url: string, summary: string) => app.get(
    url,
    {
      schema: {
        summary,
        tags: ['events'],
        querystring: {
          type: 'object',
          properties: { agent_id: uuid, deployment_object_id: uuid, limit: limitQuery.properties.limit },
        },
        response: responses({ 200: arrayOf(eventSchema) }, [400, 403]),
      },
      config: { access: ADMIN },
    },
    async (request) => {
      const q = request.query as { agent_id?: string; deployment_object_id?: string; limit?: string };
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
      const id = (request.params as { id: string }).id.toLowerCase();
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
          params: { type: 'object', required: [param], properties: { [param]: uuid } },
          response: responses({ 200: { type: 'array', maxItems: 0, items: {} } }, [400, 403, 404]),
        },
        config: { access },
      },
      async (request) => {
        const agentId = (request.params as Record<string, string>)[param]!.toLowerCase();
        await agentOr404(store, agentId);
        return [];
      },
    );
  nothingPending('/agents/:agent_id/work-orders/pending', 'agent_id', 'work orders', { roles: ['admin', 'agent'], self: 'agent_id' });
  nothingPending('/agents/:agent_id/webhooks/pending', 'agent_id', 'webhook deliveries', { roles: ['admin', 'agent'], self: 'agent_id' });
  nothingPending('/agents/:id/diagnostics/pending', 'id', 'diagnostic requests', ADMIN_OR_SELF);
}
