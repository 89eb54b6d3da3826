/** Admin agent management: create (with labels and annotations), update, soft-delete, rotate the PAK. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AGENT_STATUSES } from '../../store/records.js';
import { checkAnnotation, checkLabel, checkName } from '../../manifest/rules.js';
import type { ServerContext } from '../context.js';
import { badRequest } from '../errors.js';
import { generatePak, hashPak } from '../pak.js';
import { agentSchema, idParams, nameText, shortText, uuidText } from '../schemas.js';
import { ADMIN, agentOr404, noContent, responses } from './route-kit.js';
import { auditContext } from '../audit-context.js';

const createBody = Type.Object(
  {
    name: nameText,
    cluster_name: nameText,
    labels: Type.Optional(Type.Array(shortText, { maxItems: 256 })),
    annotations: Type.Optional(Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: shortText, maxProperties: 256 })),
    generator_ids: Type.Optional(
      Type.Array(uuidText, {
        maxItems: 256,
        description: 'brokkr v1: generators to register the agent with; here every agent sees every repository, so they need only exist',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Fields read back and ignored: their JSON Schema only (the handler never reads them). */
const ignored = (schema: object) => Type.Optional(Type.Unsafe<unknown>(schema));
const nullableText = { type: ['string', 'null'] } as const;
const updateBody = Type.Object(
  {
    name: Type.Optional(nameText),
    cluster_name: Type.Optional(nameText),
    status: Type.Optional(Type.Unsafe<string>({ type: 'string', enum: [...AGENT_STATUSES] })),
    // A brokkr client may send back the whole agent record it read (GET, change, PUT): its
    // read-only fields are accepted and ignored, except an `id` naming another agent.
    id: Type.Optional(Type.String({ format: 'uuid', description: 'Ignored; must equal the agent in the path' })),
    created_at: ignored({ type: 'string' }),
    updated_at: ignored({ type: 'string' }),
    deleted_at: ignored(nullableText),
    last_heartbeat: ignored(nullableText),
    k8s_reachable: ignored({ type: ['boolean', 'null'] }),
    k8s_api_latency_ms: ignored({ type: ['integer', 'null'] }),
    k8s_reported_at: ignored(nullableText),
  },
  { additionalProperties: false },
);

const withPak = (pakField: string) => ({
  type: 'object',
  required: ['agent', pakField],
  properties: { agent: agentSchema, [pakField]: { type: 'string', description: 'Shown once; only its hash is stored' } },
});

/** The shared manifest rules, turned into 400s that say which field broke which rule. */
export function checkAgentFields(body: { name?: unknown; cluster_name?: unknown; labels?: unknown[]; annotations?: Record<string, unknown> }): void {
  const problem =
    (body.name !== undefined && checkName(body.name, 'name')) ||
    (body.cluster_name !== undefined && checkName(body.cluster_name, 'cluster_name')) ||
    (body.labels ?? []).map((l) => checkLabel(l)).find(Boolean) ||
    Object.entries(body.annotations ?? {})
      .map(([k, v]) => checkAnnotation(k, v))
      .find(Boolean);
  if (problem) throw badRequest(`body: ${problem}`);
  const labels = body.labels ?? [];
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup !== undefined) throw badRequest(`body.labels: label ${JSON.stringify(dup)} is listed twice`);
}

export function adminAgentRoutes(parent: FastifyInstance, { store }: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/agents',
    {
      schema: {
        summary: 'Create an agent; the answer carries its PAK, shown this once',
        tags: ['agents'],
        body: createBody,
        response: responses({ 201: withPak('initial_pak') }, [400, 403, 409, 413, 415]),
      },
      config: { access: ADMIN },
    },
    async (request, reply) => {
      const { body } = request;
      checkAgentFields(body);
      if (body.generator_ids?.length) {
        const known = new Set((await store.listGenerators()).map((g) => g.id));
        const unknown = body.generator_ids.find((g) => !known.has(g.toLowerCase()));
        if (unknown) throw badRequest(`body.generator_ids: no generator ${unknown}`);
      }
      const pak = generatePak();
      // One transaction: the agent, its labels and annotations, and the audit row (never the PAK).
      const agent = await store.createAgent(
        { name: body.name, cluster_name: body.cluster_name, pak_hash: hashPak(pak), labels: body.labels, annotations: body.annotations },
        auditContext(request),
      );
      return reply.code(201).send({ agent, initial_pak: pak });
    },
  );

  app.put(
    '/agents/:id',
    {
      schema: {
        summary: 'Update name, cluster_name or status',
        tags: ['agents'],
        params: idParams,
        body: updateBody,
        response: responses({ 200: agentSchema }, [400, 403, 404, 409, 413, 415]),
      },
      config: { access: ADMIN },
    },
    async (request) => {
      const { id } = request.params;
      const { name, cluster_name, status, id: bodyId } = request.body ?? {};
      if (bodyId !== undefined && bodyId.toLowerCase() !== id.toLowerCase()) throw badRequest(`body.id ${bodyId} does not match the agent in the path (${id})`);
      const body = { name, cluster_name, status };
      checkAgentFields(body);
      await agentOr404(store, id);
      const agent = await store.updateAgent(id, body, auditContext(request));
      return agent;
    },
  );

  app.delete(
    '/agents/:id',
    {
      schema: {
        summary: 'Soft-delete an agent; its PAK stops working at once',
        tags: ['agents'],
        params: idParams,
        response: responses({ 204: noContent }, [400, 403, 404]),
      },
      config: { access: ADMIN },
    },
    async (request, reply) => {
      const { id } = request.params;
      await agentOr404(store, id);
      await store.softDeleteAgent(id, auditContext(request));
      return reply.code(204).send();
    },
  );

  app.post(
    '/agents/:id/rotate-pak',
    {
      schema: {
        summary: 'Issue a new PAK for an agent; the old one stops working at once',
        tags: ['agents'],
        params: idParams,
        response: responses({ 200: withPak('pak') }, [400, 403, 404]),
      },
      config: { access: ADMIN },
    },
    async (request) => {
      const { id } = request.params;
      await agentOr404(store, id);
      const pak = generatePak();
      const agent = await store.setAgentPakHash(id, hashPak(pak), auditContext(request));
      return { agent, pak };
    },
  );
}
