/** Stacks as admins see them: path, labels, annotations, latest object and commit; their objects and metadata. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { annotationWire, labelWire } from '../metadata-wire.js';
import {
  arrayOf,
  boolParam,
  digits,
  idParams,
  objectWithCommitSchema,
  stackAnnotationSchema,
  stackDetailSchema,
  stackLabelSchema,
} from '../schemas.js';
import { ADMIN_OR_GENERATOR, isTrue, responses } from './route-kit.js';

const tags = ['stacks'];

export function stackRoutes(parent: FastifyInstance, { store }: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  const stackOr404 = async (id: string) => {
    const stack = await store.getStack(id);
    if (!stack) throw notFound(`no stack ${id}`);
    return stack;
  };
  const byId = (summary: string, item: unknown) => ({
    schema: { summary, tags, params: idParams, response: responses({ 200: item }, [400, 403, 404]) },
    config: { access: ADMIN_OR_GENERATOR },
  });

  app.get(
    '/stacks',
    {
      schema: {
        summary: 'All stacks (deleted ones with include_deleted=true)',
        tags,
        querystring: Type.Object({ include_deleted: Type.Optional(boolParam) }),
        response: responses({ 200: arrayOf(stackDetailSchema) }, [400, 403]),
      },
      config: { access: ADMIN_OR_GENERATOR },
    },
    async (request) => store.listStacks({ includeDeleted: isTrue(request.query.include_deleted) }),
  );

  app.get('/stacks/:id', byId('One stack', stackDetailSchema), async (request) => stackOr404(request.params.id));

  app.get(
    '/stacks/:id/deployment-objects',
    {
      schema: {
        summary: 'The stack’s deployment objects, newest first, each with its commit',
        tags,
        params: idParams,
        querystring: Type.Object({ limit: Type.Optional(digits('a whole number of objects from 1', 6)) }),
        response: responses({ 200: arrayOf(objectWithCommitSchema) }, [400, 403, 404]),
      },
      config: { access: ADMIN_OR_GENERATOR },
    },
    async (request) => {
      const { id } = request.params;
      const raw = request.query.limit;
      if (raw !== undefined && Number(raw) < 1) throw badRequest('querystring.limit must be at least 1');
      await stackOr404(id);
      return store.listObjects(id, { limit: raw === undefined ? undefined : Number(raw) });
    },
  );

  app.get('/stacks/:id/labels', byId('The stack’s labels', arrayOf(stackLabelSchema)), async (request) => {
    const { id } = request.params;
    await stackOr404(id);
    return (await store.listLabels('stack', id)).map((l) => labelWire('stack', l));
  });

  app.get('/stacks/:id/annotations', byId('The stack’s annotations', arrayOf(stackAnnotationSchema)), async (request) => {
    const { id } = request.params;
    await stackOr404(id);
    return (await store.listAnnotations('stack', id)).map((a) => annotationWire('stack', a));
  });
}
