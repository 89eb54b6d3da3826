/** Small shared pieces of route declarations: who may call, which error statuses a route documents. */
import { Type } from '@sinclair/typebox';
import type { Agent, Store } from '../../store/store.js';
import type { Access } from '../auth.js';
import { ApiError, errorSchema, notFound } from '../errors.js';

export const ADMIN: Access = { roles: ['admin'] };
export const ADMIN_OR_SELF: Access = { roles: ['admin', 'agent'], self: 'id' };
export const SELF_ONLY: Access = { roles: ['agent'], self: 'id' };
export const ADMIN_OR_GENERATOR: Access = { roles: ['admin', 'generator'] };
export const ANY_PAK: Access = { roles: ['admin', 'readonly', 'agent', 'generator'] };
/** Operators only (admin and readonly): the readonly role reads what an admin reads. */
export const OPERATOR: Access = { roles: ['admin', 'readonly'] };

/** The (non-deleted) agent, or a 404 `no agent <id>`. */
export async function agentOr404(store: Pick<Store, 'getAgent'>, id: string): Promise<Agent> {
  const agent = await store.getAgent(id);
  if (!agent) throw notFound(`no agent ${id}`);
  return agent;
}

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid input (the message names the field)',
  401: 'Missing or unknown PAK',
  403: 'Wrong role, or another agent’s resource',
  404: 'Unknown id',
  409: 'Conflicts with an existing record',
  413: 'Body too large',
  415: 'Body is not application/json',
  422: 'A field brokkr removed (the message names its replacement)',
  429: 'Rate limited (see Retry-After)',
  503: 'Not ready',
};

/** Response schemas: the success ones given, plus `{code, message}` for each error status. */
export function responses(success: Record<number, unknown>, errors: number[] = []): Record<number, unknown> {
  const out: Record<number, unknown> = { ...success };
  for (const status of [...errors, 401, 429]) out[status] = { ...errorSchema, description: ERROR_TEXT[status] };
  return out;
}

/** An empty success response (204) for the OpenAPI document. */
export const noContent = { type: 'null', description: 'No content' } as const;

/** `'true'`/`'1'` → true. */
export const isTrue = (value: string | undefined) => value === 'true' || value === '1';

/**
 * brokkr v1 clients repeat the path's agent in the body (`{agent_id, label}`, `{agent_id, stack_id}`...).
 * It is optional here; when sent it must name the same agent, as brokkr itself requires.
 */
export const bodyAgentId = Type.String({ format: 'uuid', description: 'Optional (brokkr v1 clients send it); must equal the agent in the path' });

/** 400 `agent_id_mismatch` when a body `agent_id` names another agent than the path. */
export function checkBodyAgentId(bodyAgentId: string | undefined, pathId: string): void {
  if (bodyAgentId !== undefined && bodyAgentId.toLowerCase() !== pathId.toLowerCase()) {
    throw new ApiError('agent_id_mismatch', `body.agent_id ${bodyAgentId} does not match the agent in the path (${pathId})`);
  }
}
