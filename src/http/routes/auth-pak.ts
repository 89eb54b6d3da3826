/** `POST /auth/pak`: who does this PAK belong to (brokkr agents call it first to learn their id). */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { ANY_PAK, responses } from './route-kit.js';

const nullableId = { type: ['string', 'null'] } as const;

export function authRoutes(app: FastifyInstance, _ctx: ServerContext): void {
  app.post(
    '/auth/pak',
    {
      schema: {
        summary: 'Identify the caller’s PAK',
        tags: ['auth'],
        response: responses({
          200: {
            type: 'object',
            required: ['admin', 'agent', 'generator', 'readonly'],
            properties: { admin: { type: 'boolean' }, agent: nullableId, generator: nullableId, readonly: { type: 'boolean' } },
          },
        }),
      },
      config: { access: ANY_PAK },
    },
    async (request) => {
      const p = request.principal!;
      return {
        admin: p.role === 'admin',
        agent: p.role === 'agent' ? p.agent.id : null,
        generator: p.role === 'generator' ? p.generator.id : null,
        // A readonly operator is not an admin (brokkr's field keeps its meaning: may write).
        readonly: p.role === 'readonly',
      };
    },
  );
}
