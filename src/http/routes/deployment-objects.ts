/** `GET /deployment-objects/{id}`: one object, for admins, generators and agents associated with its stack. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { forbidden, notFound } from '../errors.js';
import { idParams, objectWithCommitSchema } from '../schemas.js';
import { ANY_PAK, responses } from './route-kit.js';

export function deploymentObjectRoutes(parent: FastifyInstance, { store }: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/deployment-objects/:id',
    {
      schema: {
        summary: 'One deployment object (with the commit it came from)',
        tags: ['deployment objects'],
        params: idParams,
        response: responses({ 200: objectWithCommitSchema }, [400, 403, 404]),
      },
      config: { access: ANY_PAK },
    },
    async (request) => {
      const { id } = request.params;
      const object = await store.getObject(id);
      if (!object) throw notFound(`no deployment object ${id}`);
      const p = request.principal;
      if (p?.role === 'agent' && !(await store.isStackAssociated(p.agent.id, object.stack_id))) {
        throw forbidden('this deployment object belongs to a stack that is not associated with the agent');
      }
      return object;
    },
  );
}
