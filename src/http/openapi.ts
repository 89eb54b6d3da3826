/** The OpenAPI 3.1 document, built from the very route schemas fastify validates and serializes with. */
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { Access } from './auth.js';
import { VERSION } from '../version.js';

declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: string[];
    /** Leave the route out of the OpenAPI document. */
    hide?: boolean;
  }
}

interface Collected {
  method: string;
  url: string;
  schema: Record<string, unknown>;
  access?: Access;
}

type JsonSchema = Record<string, unknown>;

/** Register before any route: records every route with a schema (HEAD twins and hidden routes skipped). */
export function collectRoutes(app: FastifyInstance): Collected[] {
  const routes: Collected[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const schema = (route.schema ?? {}) as Record<string, unknown>;
    if (schema.hide) return;
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routes.push({ method: method.toLowerCase(), url: route.url, schema, access: (route.config as { access?: Access } | undefined)?.access });
    }
  });
  return routes;
}

function parameters(where: 'path' | 'query', schema: JsonSchema | undefined): unknown[] {
  const props = (schema?.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema?.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(s.description ? { description: s.description } : {}),
    schema: s,
  }));
}

function responses(schema: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [status, s] of Object.entries((schema.response ?? {}) as Record<string, JsonSchema>)) {
    const { description, ...body } = s;
    const empty = body.type === 'null' || Object.keys(body).length === 0;
    out[status] = {
      description: (description as string | undefined) ?? (status.startsWith('2') ? 'OK' : 'Error'),
      ...(empty ? {} : { content: { 'application/json': { schema: body } } }),
    };
  }
  return out;
}

/** The document for the routes collected so far (call after `ready()`). */
export function buildOpenApi(routes: Collected[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const s = r.schema;
    const op: Record<string, unknown> = {
      ...(s.summary ? { summary: s.summary } : {}),
      ...(s.description ? { description: s.description } : {}),
      ...(s.tags ? { tags: s.tags } : {}),
      parameters: [...parameters('path', s.params as JsonSchema), ...parameters('query', s.querystring as JsonSchema)],
      responses: responses(s),
      security: r.access ? [{ pak: [] }] : [],
      ...(r.access ? { 'x-roles': r.access.roles } : {}),
    };
    if (s.body) op.requestBody = { required: true, content: { 'application/json': { schema: s.body } } };
    (paths[path] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'brokkr-sync',
      version: VERSION,
      description: 'GitOps broker compatible with the brokkr v1 agent API. Errors are {code, message}.',
    },
    components: {
      securitySchemes: { pak: { type: 'http', scheme: 'bearer', description: 'A PAK (a bare PAK without "Bearer" is accepted too)' } },
    },
    paths,
  };
}
