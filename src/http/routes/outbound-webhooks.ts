/**
 * Outbound webhook subscriptions (SPEC §11), as brokkr's `/webhooks` routes where the shapes
 * meet: create, list, read, delete, the delivery log, the event types, and a test send. Distinct
 * from routes/webhook.ts, the INBOUND git push hook (`/webhooks/git`).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { DELIVERY_STATUSES, WEBHOOK_EVENT_TYPES, WEBHOOK_FORMATS, type DeliveryStatus, type WebhookFormat, type WebhookStore } from '../../store/webhook-store.js';
import { webhooksOf } from '../../store/webhooks-of.js';
import type { Store } from '../../store/store.js';
import { checkEventTypes, EventTypeError } from '../../webhooks/event-types.js';
import { sendAttempt } from '../../webhooks/send-delivery.js';
import { WebhookUrlError, type UrlPolicy } from '../../webhooks/url-policy.js';
import { auditContext } from '../audit-context.js';
import { badRequest, notFound } from '../errors.js';
import { arrayOf, digits, idParams, nullableStr } from '../schemas.js';
import { ADMIN, noContent, OPERATOR, responses } from './route-kit.js';

const tags = ['webhooks'];
const str = { type: 'string' } as const;
const nullableInt = { type: ['integer', 'null'] } as const;

const subscriptionSchema = {
  type: 'object',
  required: ['id', 'name', 'url', 'event_types', 'has_secret', 'enabled', 'created_at', 'updated_at'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    name: str,
    url: str,
    format: { type: 'string', enum: [...WEBHOOK_FORMATS] },
    event_types: arrayOf(str),
    has_secret: { type: 'boolean', description: 'Whether deliveries are signed (the secret is never shown)' },
    // brokkr's subscription fields, for its clients: the URL here is shown, and there is no auth header.
    has_url: { type: 'boolean' },
    has_auth_header: { type: 'boolean' },
    filters: { type: 'object', description: 'Always {}: no payload filters here' },
    target_labels: { type: 'null' },
    max_retries: { type: 'integer', description: 'Not a count here: deliveries are retried for retry_for_seconds' },
    enabled: { type: 'boolean' },
    timeout_seconds: { type: 'integer' },
    created_by: nullableStr,
    created_at: str,
    updated_at: str,
  },
} as const;

const deliverySchema = {
  type: 'object',
  required: ['id', 'subscription_id', 'event_type', 'event_id', 'payload', 'status', 'attempts', 'created_at'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    subscription_id: { type: 'string', format: 'uuid' },
    event_type: str,
    event_id: { type: 'string', description: 'Stable key of the event (the agent event id for deployment.*)' },
    payload: { type: 'string', description: 'The JSON body, as text' },
    target_labels: { type: 'null' },
    status: { type: 'string', enum: [...DELIVERY_STATUSES] },
    acquired_by: nullableStr,
    acquired_until: nullableStr,
    attempts: { type: 'integer' },
    last_attempt_at: nullableStr,
    next_retry_at: nullableStr,
    last_error: nullableStr,
    last_status_code: nullableInt,
    response_excerpt: { ...nullableStr, description: 'At most the first 256 bytes of the last answer' },
    created_at: str,
    completed_at: nullableStr,
  },
} as const;

const createBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    event_types: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 32 }),
    secret: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    format: Type.Optional(Type.Unsafe<WebhookFormat>({ type: 'string', enum: [...WEBHOOK_FORMATS] })),
    timeout_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 300 })),
    // brokkr's clients send these; accepted where they mean what happens here (see checkBrokkrFields).
    filters: Type.Optional(
      Type.Unsafe<{ agent_id?: string | null; stack_id?: string | null } | null>({
        type: ['object', 'null'],
        additionalProperties: false,
        properties: { agent_id: { type: ['string', 'null'] }, stack_id: { type: ['string', 'null'] } },
      }),
    ),
    target_labels: Type.Optional(Type.Unsafe<string[] | null>({ type: ['array', 'null'], items: { type: 'string' } })),
    max_retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'Accepted from brokkr clients and ignored: deliveries are retried for an hour' })),
    auth_header: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'] })),
  },
  { additionalProperties: false },
);
type CreateBody = Static<typeof createBody>;

/** brokkr's fields that would change what is delivered, where, or how, are refused rather than silently dropped. */
function checkBrokkrFields(body: CreateBody): void {
  if (body.filters && (body.filters.agent_id || body.filters.stack_id)) {
    throw badRequest('body.filters: payload filters (agent_id, stack_id) are not offered; subscribe to event types and filter in the receiver');
  }
  if (body.target_labels && body.target_labels.length > 0) {
    throw badRequest('body.target_labels: agent-side delivery is not offered; the daemon delivers every webhook itself');
  }
  if (body.auth_header) throw badRequest('body.auth_header: an Authorization header is not offered; set a secret and verify X-Brokkr-Signature-256');
}

/** brokkr's always-present fields beside ours. */
function wire<T extends { url: string }>(s: T) {
  return { ...s, has_url: true, has_auth_header: false, filters: {}, target_labels: null, max_retries: 0 };
}

/** `policy`: where subscriptions may point (the daemon's --webhook-allow-hosts). */
export function outboundWebhookRoutes(parent: FastifyInstance, store: Store, policy: UrlPolicy): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  // Resolved per request: a server over a test's wrapped store still serves every other route.
  const hooks = new Proxy({} as WebhookStore, { get: (_t, key) => Reflect.get(webhooksOf(store), key).bind(webhooksOf(store)) });
  const find = async (id: string) => {
    const s = await hooks.getSubscription(id.toLowerCase());
    if (!s || s.id !== id.toLowerCase()) throw notFound(`no webhook subscription ${id}`);
    return s;
  };

  app.get(
    '/webhooks',
    { schema: { summary: 'Outbound webhook subscriptions (never their secrets)', tags, response: responses({ 200: arrayOf(subscriptionSchema) }, [403]) }, config: { access: OPERATOR } },
    async () => (await hooks.listSubscriptions()).map(wire),
  );

  app.post(
    '/webhooks',
    {
      schema: {
        summary: 'Subscribe a URL to events',
        description:
          'event_types: exact types, `family.*` or `*` (GET /webhooks/event-types). The URL must be http(s) and, unless the operator allows its host (serve --webhook-allow-hosts), must not be or resolve to a loopback, private or link-local address. With a secret, each delivery carries X-Brokkr-Signature-256: sha256=HMAC-SHA256(body). format slack posts `{text}`.',
        tags,
        body: createBody,
        response: responses({ 201: subscriptionSchema }, [400, 403, 409, 413, 415]),
      },
      config: { access: ADMIN },
    },
    async (request, reply) => {
      const { body } = request;
      checkBrokkrFields(body);
      let eventTypes: string[];
      try {
        eventTypes = checkEventTypes(body.event_types);
        await policy.check(body.url);
      } catch (err) {
        if (err instanceof EventTypeError || err instanceof WebhookUrlError) throw badRequest(`body.${err instanceof EventTypeError ? 'event_types' : 'url'}: ${err.message}`);
        throw err;
      }
      const audit = auditContext(request);
      const created = await hooks.createSubscription(
        { name: body.name, url: body.url, event_types: eventTypes, secret: body.secret ?? null, format: body.format ?? 'json', timeout_seconds: body.timeout_seconds ?? 10, created_by: audit.actor },
        audit,
      );
      return reply.code(201).send(wire(created));
    },
  );

  app.get(
    '/webhooks/event-types',
    { schema: { summary: 'The event types a subscription may name', tags, response: responses({ 200: arrayOf(str) }, [403]) }, config: { access: OPERATOR } },
    async () => [...WEBHOOK_EVENT_TYPES],
  );

  app.get(
    '/webhooks/:id',
    { schema: { summary: 'One subscription', tags, params: idParams, response: responses({ 200: subscriptionSchema }, [400, 403, 404]) }, config: { access: OPERATOR } },
    async (request) => wire(await find(request.params.id)),
  );

  app.delete(
    '/webhooks/:id',
    { schema: { summary: 'Unsubscribe; its deliveries (pending ones included) go with it', tags, params: idParams, response: responses({ 204: noContent }, [400, 403, 404]) }, config: { access: ADMIN } },
    async (request, reply) => {
      const s = await find(request.params.id);
      await hooks.deleteSubscription(s.id, auditContext(request));
      return reply.code(204).send();
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      schema: {
        summary: 'The delivery log of a subscription, newest first',
        tags,
        params: idParams,
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Unsafe<DeliveryStatus>({ type: 'string', enum: [...DELIVERY_STATUSES] })),
            limit: Type.Optional(digits('1..1000, default 50', 4)),
            offset: Type.Optional(digits('Rows to skip')),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: arrayOf(deliverySchema) }, [400, 403, 404]),
      },
      config: { access: OPERATOR },
    },
    async (request) => {
      const s = await find(request.params.id);
      const q = request.query;
      const rows = await hooks.listDeliveries(s.id, { status: q.status, limit: q.limit === undefined ? undefined : Number(q.limit), offset: q.offset === undefined ? undefined : Number(q.offset) });
      return rows.map((d) => ({ ...d, target_labels: null }));
    },
  );

  app.post(
    '/webhooks/:id/test',
    {
      schema: {
        summary: 'Send a webhook.test event now (no delivery record, no retry) and say how the receiver answered',
        tags,
        params: idParams,
        response: responses({ 200: { type: 'object', required: ['success', 'message'], properties: { success: { type: 'boolean' }, status_code: nullableInt, message: str } } }, [400, 403, 404]),
      },
      config: { access: ADMIN },
    },
    async (request) => {
      const s = await find(request.params.id);
      const secret = await hooks.subscriptionSecret(s.id);
      const id = randomUUID();
      const payload = JSON.stringify({ id, event_type: 'webhook.test', timestamp: new Date().toISOString(), data: { message: 'brokkr-sync test delivery', subscription_id: s.id, subscription_name: s.name } });
      const r = await sendAttempt({ delivery_id: id, event_type: 'webhook.test', event_id: id, payload, url: s.url, secret, format: s.format, timeout_seconds: s.timeout_seconds, attempt: 1 }, policy);
      return r.ok ? { success: true, status_code: r.status_code, message: 'Test delivery successful' } : { success: false, status_code: r.status_code, message: r.error };
    },
  );
}
