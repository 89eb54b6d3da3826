/**
 * Outbound webhook subscriptions (SPEC §11), as brokkr's `/webhooks` routes where the shapes
 * meet: create, list, read, change (PUT), delete, the delivery log, the event types, and a test
 * send. Distinct from routes/webhook.ts, the INBOUND git push hook (`/webhooks/git`).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { DELIVERY_STATUSES, WEBHOOK_EVENT_TYPES, type DeliveryStatus, type WebhookStore, type WebhookSubscriptionPatch } from '../../store/webhook-store.js';
import { webhooksOf } from '../../store/webhooks-of.js';
import type { Store } from '../../store/store.js';
import { checkEventTypes, EventTypeError } from '../../webhooks/event-types.js';
import { sendAttempt } from '../../webhooks/send-delivery.js';
import { WebhookUrlError, type UrlPolicy } from '../../webhooks/url-policy.js';
import { auditContext } from '../audit-context.js';
import { badRequest, notFound } from '../errors.js';
import { arrayOf, digits, idParams } from '../schemas.js';
import { bodyFilters, checkBrokkrFields, createBody, deliverySchema, nullableInt, rejectRemovedFields, str, subscriptionSchema, updateBody, wire } from './outbound-webhook-shapes.js';
import { ADMIN, noContent, OPERATOR, responses } from './route-kit.js';

const tags = ['webhooks'];

/** The URL and event types of a body, checked: 400 naming the field. */
async function checked<T>(policy: UrlPolicy, url: string | undefined, eventTypes: string[] | undefined, then: (eventTypes: string[] | undefined) => T): Promise<T> {
  let types: string[] | undefined;
  try {
    types = eventTypes === undefined ? undefined : checkEventTypes(eventTypes);
    if (url !== undefined) await policy.check(url);
  } catch (err) {
    if (err instanceof EventTypeError || err instanceof WebhookUrlError) throw badRequest(`body.${err instanceof EventTypeError ? 'event_types' : 'url'}: ${err.message}`);
    throw err;
  }
  return then(types);
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
        response: responses({ 201: subscriptionSchema }, [400, 403, 409, 413, 415, 422]),
      },
      config: { access: ADMIN },
      preValidation: rejectRemovedFields('create'),
    },
    async (request, reply) => {
      const { body } = request;
      checkBrokkrFields(body);
      const eventTypes = await checked(policy, body.url, body.event_types, (types) => types!);
      const audit = auditContext(request);
      const created = await hooks.createSubscription(
        {
          name: body.name,
          url: body.url,
          event_types: eventTypes,
          secret: body.secret ?? null,
          format: body.format ?? 'json',
          timeout_seconds: body.timeout_seconds ?? 10,
          created_by: audit.actor,
          filters: bodyFilters(body.filters),
        },
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

  app.put(
    '/webhooks/:id',
    {
      schema: {
        summary: 'Change a subscription in place (brokkr’s UpdateWebhookRequest): its id and delivery log stay',
        description:
          'Fields left out (or null) stay as they are; `secret: null` removes the secret and `filters: null` or `{}` the filters. A new URL is checked as on create. `enabled: false` stops new deliveries; those already queued are still sent, as brokkr does, with the URL and secret the subscription has when each is sent. The secret is never returned (has_secret).',
        tags,
        params: idParams,
        body: updateBody,
        response: responses({ 200: subscriptionSchema }, [400, 403, 404, 409, 413, 415, 422]),
      },
      config: { access: ADMIN },
      preValidation: rejectRemovedFields('update'),
    },
    async (request) => {
      const { body } = request;
      checkBrokkrFields(body);
      const s = await find(request.params.id);
      const patch = await checked(policy, body.url ?? undefined, body.event_types ?? undefined, (eventTypes): WebhookSubscriptionPatch => ({
        name: body.name ?? undefined,
        url: body.url ?? undefined,
        event_types: eventTypes,
        enabled: body.enabled ?? undefined,
        format: body.format ?? undefined,
        timeout_seconds: body.timeout_seconds ?? undefined,
        ...(body.secret !== undefined ? { secret: body.secret } : {}),
        ...(body.filters !== undefined ? { filters: bodyFilters(body.filters) } : {}),
      }));
      const updated = await hooks.updateSubscription(s.id, patch, auditContext(request));
      if (!updated) throw notFound(`no webhook subscription ${request.params.id}`);
      return wire(updated);
    },
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
