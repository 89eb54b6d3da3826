/** brokkr's shapes of the outbound webhook routes: the records answered, the bodies taken, and the rules for brokkr's own fields. */
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { DELIVERY_STATUSES, WEBHOOK_FORMATS, type WebhookFilters, type WebhookFormat } from '../../store/webhook-store.js';
import { ApiError, badRequest } from '../errors.js';
import { arrayOf, nullableStr } from '../schemas.js';

export const str = { type: 'string' } as const;
export const nullableInt = { type: ['integer', 'null'] } as const;

export const subscriptionSchema = {
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
    filters: {
      type: 'object',
      description: 'Payload filters as stored ({} for none): only events whose data carries these values are delivered',
      properties: { agent_id: { type: 'string', format: 'uuid' }, stack_id: { type: 'string', format: 'uuid' } },
    },
    target_labels: { type: 'null' },
    max_retries: { type: 'integer', description: 'Not a count here: deliveries are retried for retry_for_seconds' },
    enabled: { type: 'boolean' },
    timeout_seconds: { type: 'integer' },
    created_by: nullableStr,
    created_at: str,
    updated_at: str,
  },
} as const;

export const deliverySchema = {
  type: 'object',
  required: ['id', 'subscription_id', 'event_type', 'event_id', 'payload', 'status', 'attempts', 'created_at'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    subscription_id: { type: 'string', format: 'uuid' },
    event_type: str,
    event_id: { type: 'string', format: 'uuid', description: 'The event (the agent event id for deployment.*): the same on every retry and for every subscription' },
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

const nullableUuid = { type: ['string', 'null'], format: 'uuid' } as const;
/** brokkr's payload filters in a body (`about`: what leaving them out or null means there). */
const filtersBody = (about: string) =>
  Type.Unsafe<{ agent_id?: string | null; stack_id?: string | null } | null>({
    type: ['object', 'null'],
    additionalProperties: false,
    description: `brokkr's payload filters: each one set must equal the event data's agent_id / stack_id; an event without that field is not delivered. ${about}`,
    properties: { agent_id: nullableUuid, stack_id: nullableUuid },
  });
// brokkr's clients send these; accepted where they mean what happens here (see checkBrokkrFields).
const brokkrFields = {
  target_labels: Type.Optional(Type.Unsafe<string[] | null>({ type: ['array', 'null'], items: { type: 'string' } })),
  max_retries: Type.Optional(Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 0, maximum: 10, description: 'Accepted from brokkr clients and ignored: deliveries are retried for an hour' })),
  auth_header: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'] })),
};

export const createBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    event_types: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 32 }),
    secret: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    format: Type.Optional(Type.Unsafe<WebhookFormat>({ type: 'string', enum: [...WEBHOOK_FORMATS] })),
    timeout_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 300 })),
    filters: Type.Optional(filtersBody('null or {}: none')),
    ...brokkrFields,
  },
  { additionalProperties: false },
);

/** brokkr's UpdateWebhookRequest (every field optional; null leaves a field as it is, except filters and secret, where it removes them), plus our secret and format. */
export const updateBody = Type.Object(
  {
    name: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], minLength: 1, maxLength: 255 })),
    url: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], minLength: 1, maxLength: 2048 })),
    event_types: Type.Optional(Type.Unsafe<string[] | null>({ type: ['array', 'null'], items: { type: 'string', minLength: 1, maxLength: 100 }, minItems: 1, maxItems: 32 })),
    enabled: Type.Optional(Type.Unsafe<boolean | null>({ type: ['boolean', 'null'], description: 'false: no new deliveries (those already queued are still sent)' })),
    secret: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], minLength: 1, maxLength: 1024, description: 'A new signing secret; null removes it' })),
    format: Type.Optional(Type.Unsafe<WebhookFormat | null>({ type: ['string', 'null'], enum: [...WEBHOOK_FORMATS, null] })),
    timeout_seconds: Type.Optional(Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 1, maximum: 300 })),
    filters: Type.Optional(filtersBody('Replaces the filters (null or {} removes them); left out, they stay')),
    ...brokkrFields,
  },
  { additionalProperties: false },
);

/** Filters from a body: null when none is set. */
export function bodyFilters(f: { agent_id?: string | null; stack_id?: string | null } | null | undefined): WebhookFilters | null {
  const out: WebhookFilters = {};
  if (f?.agent_id) out.agent_id = f.agent_id.toLowerCase();
  if (f?.stack_id) out.stack_id = f.stack_id.toLowerCase();
  return Object.keys(out).length === 0 ? null : out;
}

/**
 * brokkr's write-path rule, on the raw body before validation (as brokkr does): a field its API
 * removed is a 422 naming the replacement, not a generic 400 — `filters.labels` (never evaluated
 * there: label routing is target_labels) on create and update, `validate` on create.
 */
export function rejectRemovedFields(which: 'create' | 'update') {
  return async (request: FastifyRequest) => {
    const body = request.body as Record<string, unknown> | null | undefined;
    if (!body || typeof body !== 'object') return;
    if (which === 'create' && 'validate' in body) {
      throw new ApiError('unsupported_field', 'body.validate is no longer accepted (brokkr removed it: it never sent a test request); create the subscription, then POST /webhooks/{id}/test');
    }
    const filters = body.filters as Record<string, unknown> | null | undefined;
    if (filters && typeof filters === 'object' && 'labels' in filters) {
      throw new ApiError(
        'unsupported_field',
        'body.filters.labels is no longer accepted (brokkr removed it: it was never evaluated); use target_labels for label-based routing (not offered here: the daemon delivers every webhook itself), or filter on filters.agent_id / filters.stack_id',
      );
    }
  };
}

/** brokkr's fields that would change what is delivered, where, or how, are refused rather than silently dropped. */
export function checkBrokkrFields(body: { target_labels?: string[] | null; auth_header?: string | null }): void {
  if (body.target_labels && body.target_labels.length > 0) {
    throw badRequest('body.target_labels: agent-side delivery is not offered; the daemon delivers every webhook itself');
  }
  if (body.auth_header) throw badRequest('body.auth_header: an Authorization header is not offered; set a secret and verify X-Brokkr-Signature-256');
}

/** brokkr's always-present fields beside ours. */
export function wire<T extends { url: string }>(s: T) {
  return { ...s, has_url: true, has_auth_header: false, target_labels: null, max_retries: 0 };
}
