/**
 * The audit log over HTTP (SPEC §11): `GET /audit-logs` (filters actor, action, resource, since;
 * limit + cursor or offset) and brokkr's `GET /admin/audit-logs` (its filters and answer shape).
 * Both answer `{logs, total, count, limit, offset, next_cursor}`; operators only (admin, readonly).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT, type AuditQuery } from '../../store/audit.js';
import type { ServerContext } from '../context.js';
import { badRequest } from '../errors.js';
import { ADMIN, responses } from './route-kit.js';

const tags = ['audit'];
const nullableStr = { type: ['string', 'null'] } as const;

const auditLogSchema = {
  type: 'object',
  required: ['id', 'seq', 'timestamp', 'actor_type', 'action', 'resource_type', 'created_at'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    seq: { type: 'integer', description: 'Insertion order: the stable order, and the paging cursor' },
    timestamp: { type: 'string' },
    actor_type: { type: 'string', enum: ['admin', 'agent', 'generator', 'system'] },
    actor_id: nullableStr,
    actor_name: { ...nullableStr, description: 'The operator (or agent, generator) that made the change' },
    action: { type: 'string' },
    resource_type: { type: 'string' },
    resource_id: nullableStr,
    details: { type: ['object', 'null'], additionalProperties: true },
    ip_address: nullableStr,
    user_agent: nullableStr,
    created_at: { type: 'string' },
  },
} as const;

const listSchema = {
  type: 'object',
  required: ['logs', 'total', 'count', 'limit', 'offset', 'next_cursor'],
  properties: {
    logs: { type: 'array', items: auditLogSchema },
    total: { type: 'integer', description: 'Rows matching the filters (all pages)' },
    count: { type: 'integer' },
    limit: { type: 'integer' },
    offset: { type: 'integer' },
    next_cursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next (older) page; null on the last page' },
  },
} as const;

/** An optional query parameter (every filter is). */
const text = (description: string) => Type.Optional(Type.String({ maxLength: 256, description }));

const querySchema = Type.Object(
  {
    actor: text('Operator (actor) name'),
    action: text('Action, exact or a prefix ending in * (agent.*)'),
    resource: text('TYPE, TYPE:ID, or an id'),
    resource_type: text('Resource type'),
    resource_id: text('Resource id'),
    since: text('ISO-8601 time, or an age: 30m, 2h, 7d'),
    limit: text(`1..${AUDIT_MAX_LIMIT} (default ${AUDIT_DEFAULT_LIMIT})`),
    cursor: text('The previous page’s next_cursor'),
    offset: text('Rows to skip (instead of a cursor)'),
    // brokkr's filters (GET /admin/audit-logs)
    actor_type: text('admin, agent, generator, system'),
    actor_id: text('Actor id'),
    from: text('ISO-8601 time (inclusive)'),
    to: text('ISO-8601 time (exclusive)'),
  },
  { additionalProperties: false },
);

type Query = Static<typeof querySchema>;

const AGE = /^(\d{1,6})([smhd])$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** An ISO-8601 time or an age (30m, 2h, 7d) as the canonical ISO string both stores compare. */
export function parseTime(value: string, field: string, now = Date.now()): string {
  const age = AGE.exec(value.trim());
  if (age) return new Date(now - Number(age[1]) * UNIT_MS[age[2] as keyof typeof UNIT_MS]).toISOString();
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t)) {
    throw badRequest(`query.${field}: ${JSON.stringify(value)} is not an ISO-8601 time (2026-01-31T12:00:00Z) or an age (30m, 2h, 7d)`);
  }
  return new Date(t).toISOString();
}

function wholeNumber(value: string | undefined, field: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,12}$/.test(value) || Number(value) < min || Number(value) > max) throw badRequest(`query.${field}: must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`);
  return Number(value);
}

/** The query string as an AuditQuery, every bad value a 400 naming the parameter. */
export function parseAuditQuery(q: Query): AuditQuery {
  const query: AuditQuery = {
    actor: q.actor || undefined,
    actorType: q.actor_type || undefined,
    actorId: q.actor_id || undefined,
    action: q.action || undefined,
    resourceType: q.resource_type || undefined,
    resourceId: q.resource_id || undefined,
    limit: wholeNumber(q.limit, 'limit', 1, AUDIT_MAX_LIMIT),
    offset: wholeNumber(q.offset, 'offset', 0, 1e12),
    beforeSeq: wholeNumber(q.cursor, 'cursor', 1, 1e12),
  };
  if (q.resource) {
    const [type, id] = q.resource.includes(':') ? q.resource.split(':', 2) : /^[0-9a-f-]{36}$/i.test(q.resource) ? [undefined, q.resource] : [q.resource, undefined];
    query.resourceType ??= type || undefined;
    query.resourceId ??= id || undefined;
  }
  // Ids are stored lower-case (UUIDs); names (an operator's) keep their case.
  if (query.resourceId && /^[0-9a-f-]{36}$/i.test(query.resourceId)) query.resourceId = query.resourceId.toLowerCase();
  const since = q.since ?? q.from;
  if (since) query.since = parseTime(since, q.since ? 'since' : 'from');
  if (q.to) query.until = parseTime(q.to, 'to');
  return query;
}

export function auditLogRoutes(parent: FastifyInstance, { store }: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  const list = async (raw: Query) => {
    const query = parseAuditQuery(raw);
    const page = await store.listAuditLogs(query);
    return {
      logs: page.logs,
      total: page.total,
      count: page.logs.length,
      limit: query.limit ?? AUDIT_DEFAULT_LIMIT,
      offset: query.beforeSeq === undefined ? (query.offset ?? 0) : 0,
      next_cursor: page.next_cursor === null ? null : String(page.next_cursor),
    };
  };
  const route = (summary: string) => ({
    schema: { summary, tags, querystring: querySchema, response: responses({ 200: listSchema }, [400, 403]) },
    config: { access: ADMIN },
  });
  app.get('/audit-logs', route('Audit log: every admin write, newest first (filters actor, action, resource, since; limit + cursor)'), async (request) =>
    list(request.query),
  );
  app.get('/admin/audit-logs', route('brokkr v1: the audit log (filters actor_type, actor_id, action, resource_type, resource_id, from, to; limit + offset)'), async (request) =>
    list(request.query),
  );
}
