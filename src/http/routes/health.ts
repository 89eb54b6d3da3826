/** Deployment health (brokkr v1, SPEC §10): agents report per object; admins read per object and per stack. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { HEALTH_STATUSES, type DeploymentHealth, type HealthStatus } from '../../store/records.js';
import type { HealthReport } from '../../store/store.js';
import type { ServerContext } from '../context.js';
import { forbidden, notFound } from '../errors.js';
import { countStatuses, latestPerAgent, worstStatus } from '../health-summary.js';
import { deploymentHealthSchema, idParams, uuidText } from '../schemas.js';
import { ADMIN, ADMIN_OR_SELF, agentOr404, responses } from './route-kit.js';

const uuid = { type: 'string', format: 'uuid' } as const;
const status = { type: 'string', enum: [...HEALTH_STATUSES] } as const;
const count = { type: 'integer', minimum: 0 } as const;
/** Longest summary kept: a first line of output, or brokkr's JSON summary. */
const MAX_SUMMARY = 4096;
/** Objects per report: an agent reports every stack it runs in one request. */
const MAX_OBJECTS = 10_000;

const reportedObject = Type.Object(
  {
    id: uuidText,
    status: Type.Unsafe<HealthStatus>({ ...status, description: 'healthy, degraded, failing or unknown (lower case)' }),
    summary: Type.Optional(
      Type.Unsafe<unknown>({
        anyOf: [{ type: 'string', maxLength: MAX_SUMMARY }, { type: 'object' }, { type: 'null' }],
        description: 'Text, or brokkr’s HealthSummary object (stored JSON-encoded, as brokkr does)',
      }),
    ),
    checked_at: Type.Optional(Type.String({ format: 'date-time', description: 'When the agent checked (default: now)' })),
  },
  { additionalProperties: false },
);
const healthBody = Type.Object({ deployment_objects: Type.Array(reportedObject, { maxItems: MAX_OBJECTS }) }, { additionalProperties: false });

const countsSchema = { type: 'object', required: [...HEALTH_STATUSES], properties: Object.fromEntries(HEALTH_STATUSES.map((s) => [s, count])) };

const objectHealthResponse = {
  type: 'object',
  required: ['deployment_object_id', 'health_records', 'overall_status', 'counts'],
  properties: { deployment_object_id: uuid, health_records: { type: 'array', items: deploymentHealthSchema }, overall_status: status, counts: countsSchema },
} as const;

const stackHealthResponse = {
  type: 'object',
  required: ['stack_id', 'overall_status', 'deployment_objects', 'counts'],
  properties: {
    stack_id: uuid,
    overall_status: { ...status, description: 'The worst status of each agent’s report on the newest object it reported on' },
    counts: countsSchema,
    deployment_objects: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'sequence_id', 'status', 'healthy_agents', 'degraded_agents', 'failing_agents', 'unknown_agents', 'agents'],
        properties: {
          id: uuid,
          sequence_id: { type: 'integer' },
          status,
          healthy_agents: count,
          degraded_agents: count,
          failing_agents: count,
          unknown_agents: count,
          agents: {
            type: 'array',
            items: {
              type: 'object',
              required: ['agent_id', 'status', 'summary', 'checked_at'],
              properties: { agent_id: uuid, status, summary: { type: ['string', 'null'] }, checked_at: { type: 'string' } },
            },
          },
        },
      },
    },
  },
} as const;

/** brokkr sends a structured summary; it keeps it JSON-encoded in a text column, and so do we. */
function summaryText(summary: unknown): string | null {
  if (summary === undefined || summary === null) return null;
  return typeof summary === 'string' ? summary : JSON.stringify(summary);
}

export function healthRoutes(parent: FastifyInstance, { store }: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  app.patch(
    '/agents/:id/health-status',
    {
      schema: {
        summary: 'Report the health of deployment objects of associated stacks (brokkr v1): one row per agent and object, replaced',
        tags: ['health'],
        params: idParams,
        body: healthBody,
        response: responses({ 200: { type: 'null', description: 'Recorded (no body, as brokkr answers)' } }, [400, 403, 404, 413, 415]),
      },
      config: { access: ADMIN_OR_SELF },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      const { body } = request;
      if (request.principal?.role !== 'agent') await agentOr404(store, id);
      // The last report of an object in one request wins, as if sent one after the other.
      const reports = new Map<string, HealthReport>();
      for (const r of body.deployment_objects) {
        const objectId = r.id.toLowerCase();
        const summary = summaryText(r.summary);
        reports.set(objectId, {
          deployment_object_id: objectId,
          status: r.status,
          summary: summary !== null && summary.length > MAX_SUMMARY ? `${summary.slice(0, MAX_SUMMARY - 1)}…` : summary,
          checked_at: r.checked_at === undefined ? null : new Date(r.checked_at).toISOString(),
        });
      }
      const objects = new Map((await store.getObjects([...reports.keys()])).map((o) => [o.id, o]));
      const allowed = new Map<string, boolean>();
      for (const objectId of reports.keys()) {
        const object = objects.get(objectId);
        if (!object) throw notFound(`no deployment object ${objectId}`);
        if (!allowed.has(object.stack_id)) allowed.set(object.stack_id, await store.isStackAssociated(id, object.stack_id));
        if (!allowed.get(object.stack_id)) {
          throw forbidden(`deployment object ${objectId} belongs to a stack that is not associated with agent ${id}`);
        }
      }
      if (reports.size > 0) await store.reportHealth(id, [...reports.values()]);
      return reply.code(200).send();
    },
  );

  app.get(
    '/deployment-objects/:id/health',
    {
      schema: {
        summary: 'Health of one deployment object, per agent, with the worst status and counts (brokkr v1)',
        tags: ['health'],
        params: idParams,
        response: responses({ 200: objectHealthResponse }, [400, 403, 404]),
      },
      config: { access: ADMIN },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      if ((await store.getObjects([id])).length === 0) throw notFound(`no deployment object ${id}`);
      const records = await store.listHealth({ deploymentObjectId: id });
      return { deployment_object_id: id, health_records: records, overall_status: worstStatus(records.map((r) => r.status)), counts: countStatuses(records) };
    },
  );

  app.get(
    '/stacks/:id/health',
    {
      schema: {
        summary: 'Health of a stack’s deployment objects, per object and agent, with counts (brokkr v1)',
        tags: ['health'],
        params: idParams,
        response: responses({ 200: stackHealthResponse }, [400, 403, 404]),
      },
      config: { access: ADMIN },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      if (!(await store.getStack(id))) throw notFound(`no stack ${id}`);
      const records = await store.listHealth({ stackId: id });
      const current = latestPerAgent(records);
      const byObject = new Map<string, DeploymentHealth[]>();
      for (const r of records) byObject.set(r.deployment_object_id, [...(byObject.get(r.deployment_object_id) ?? []), r]);
      const sequences = new Map((await store.listStackObjectsFrom(id, 0)).map((o) => [o.id, o.sequence_id]));
      return {
        stack_id: id,
        overall_status: worstStatus(current.map((r) => r.status)),
        counts: countStatuses(current),
        deployment_objects: [...byObject].map(([objectId, rows]) => {
          const c = countStatuses(rows);
          return {
            id: objectId,
            sequence_id: sequences.get(objectId) ?? 0,
            status: worstStatus(rows.map((r) => r.status)),
            healthy_agents: c.healthy,
            degraded_agents: c.degraded,
            failing_agents: c.failing,
            unknown_agents: c.unknown,
            agents: rows.map((r) => ({ agent_id: r.agent_id, status: r.status, summary: r.summary, checked_at: r.checked_at })),
          };
        }),
      };
    },
  );
}
