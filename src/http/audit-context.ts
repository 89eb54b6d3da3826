/** The audit context of a request: who (the principal's name and role), from where (client address, user agent). */
import type { FastifyRequest } from 'fastify';
import type { AuditContext } from '../store/audit.js';

/** Longest user agent kept in an audit row. */
const MAX_USER_AGENT = 256;

/**
 * Built from the principal the auth hook set: an operator writes as actor_type 'admin' under its
 * name and id; an agent or generator as itself. `request.ip` honours the server's trustProxy setting.
 */
export function auditContext(request: FastifyRequest): AuditContext {
  const p = request.principal;
  const userAgent = request.headers['user-agent']?.slice(0, MAX_USER_AGENT) ?? null;
  const base = { ip: request.ip ?? null, userAgent };
  if (!p) return { actorType: 'system', actor: null, actorId: null, ...base };
  if (p.role === 'agent') return { actorType: 'agent', actor: p.agent.name, actorId: p.agent.id, ...base };
  if (p.role === 'generator') return { actorType: 'generator', actor: p.generator.name, actorId: p.generator.id, ...base };
  return { actorType: 'admin', actor: p.name, actorId: p.operator_id, ...base };
}
