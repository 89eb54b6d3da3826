/** Operators (SPEC §11): named admin and readonly PAKs — create (the PAK shown once), list (never the PAK), revoke. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { OPERATOR_ROLES, type OperatorRole } from '../../store/operators.js';
import { auditContext } from '../audit-context.js';
import type { ServerContext } from '../context.js';
import { badRequest } from '../errors.js';
import { generatePak, hashPak } from '../pak.js';
import { arrayOf } from '../schemas.js';
import { ADMIN, noContent, responses } from './route-kit.js';

const tags = ['operators'];

/** A name that reads well in the audit log and needs no escaping in a URL path. */
const OPERATOR_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

const operatorSchema = {
  type: 'object',
  required: ['id', 'name', 'role', 'created_at', 'last_used_at'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    name: { type: 'string' },
    role: { type: 'string', enum: [...OPERATOR_ROLES] },
    created_at: { type: 'string' },
    last_used_at: { type: ['string', 'null'], description: 'Last authenticated request (recorded at most once a minute)' },
  },
} as const;

export function operatorRoutes(parent: FastifyInstance, { store }: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/paks',
    { schema: { summary: 'Operators: name, role, created, last used (never a PAK)', tags, response: responses({ 200: arrayOf(operatorSchema) }, [403]) }, config: { access: ADMIN } },
    async () => store.listOperators(),
  );

  app.post(
    '/paks',
    {
      schema: {
        summary: 'Create a named operator PAK; the answer carries the PAK, shown this once',
        tags,
        body: Type.Object(
          {
            name: Type.String({ maxLength: 64 }),
            role: Type.Optional(Type.Unsafe<OperatorRole>({ type: 'string', enum: [...OPERATOR_ROLES], default: 'admin' })),
          },
          { additionalProperties: false },
        ),
        response: responses(
          { 201: { type: 'object', required: ['operator', 'pak'], properties: { operator: operatorSchema, pak: { type: 'string', description: 'Shown once; only its hash is stored' } } } },
          [400, 403, 409, 413, 415],
        ),
      },
      config: { access: ADMIN },
    },
    async (request, reply) => {
      // ajv fills in the schema's default role; the `= 'admin'` is for the type only.
      const { name, role = 'admin' } = request.body;
      if (!OPERATOR_NAME.test(name)) {
        throw badRequest(`body.name: ${JSON.stringify(name)} is not an operator name (1..64 letters, digits, '.', '_', '@', '-'; starting with a letter or digit)`);
      }
      const pak = generatePak();
      const operator = await store.createOperator({ name, role, pak_hash: hashPak(pak) }, auditContext(request));
      return reply.code(201).send({ operator, pak });
    },
  );

  app.delete(
    '/paks/:name',
    {
      schema: {
        summary: 'Revoke an operator’s PAK: it stops working at once on every replica (the last admin cannot be revoked)',
        tags,
        params: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: responses({ 204: noContent }, [400, 403, 404, 409]),
      },
      config: { access: ADMIN },
    },
    async (request, reply) => {
      const { name } = request.params;
      await store.revokeOperator(name, auditContext(request));
      return reply.code(204).send();
    },
  );
}
