/**
 * JSON schemas of the wire records (field names = column names) and of common parameters.
 *
 * The same objects validate requests, serialize responses (fast-json-stringify drops anything
 * not listed, e.g. `pak_hash`) and become the OpenAPI document, so they cannot drift apart.
 */
import { Type } from '@sinclair/typebox';
import { conditionSchemaProperties } from '../sync/failure-class.js';

const str = { type: 'string' } as const;
export const nullableStr = { type: ['string', 'null'] } as const;
const ts = { type: 'string', description: 'UTC RFC 3339 timestamp with milliseconds' } as const;
const nullableTs = { type: ['string', 'null'], description: 'UTC RFC 3339 timestamp, null when unset' } as const;
const uuid = { type: 'string', format: 'uuid' } as const;

function record(properties: Record<string, unknown>, description?: string) {
  return { type: 'object', ...(description ? { description } : {}), required: Object.keys(properties), properties };
}

const timestamps = { created_at: ts, updated_at: ts, deleted_at: nullableTs };

export const agentSchema = record(
  {
    id: uuid,
    ...timestamps,
    name: str,
    cluster_name: str,
    last_heartbeat: nullableTs,
    status: str,
    k8s_reachable: { type: ['boolean', 'null'], description: 'Whether the agent last reported reaching its Kubernetes API; null until reported' },
    k8s_api_latency_ms: { type: ['integer', 'null'], description: 'Latency of that probe in milliseconds, when the agent measured one' },
    k8s_reported_at: { ...nullableTs, description: 'When the broker received that report; null until reported' },
  },
  'An agent (the PAK hash is never sent)',
);

/** brokkr v1's optional heartbeat report: both fields optional, and the whole body may be left out. */
export const heartbeatReportSchema = Type.Object(
  {
    k8s_reachable: Type.Optional(Type.Unsafe<boolean | null>({ type: ['boolean', 'null'], description: 'Whether the agent can reach its own Kubernetes API' })),
    k8s_api_latency_ms: Type.Optional(
      Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 0, maximum: 2147483647, description: 'Latency of the probe (ms)' }),
    ),
  },
  { additionalProperties: false },
);

export const deploymentObjectSchema = record({
  id: uuid,
  ...timestamps,
  sequence_id: { type: 'integer' },
  stack_id: uuid,
  yaml_content: str,
  yaml_checksum: str,
  submitted_at: ts,
  is_deletion_marker: { type: 'boolean' },
  generator_id: uuid,
});

export const commitSchema = {
  type: ['object', 'null'],
  description: 'The git commit an object came from',
  properties: { sha: str, author_name: str, author_email: str, subject: str, committed_at: ts },
} as const;

export const objectWithCommitSchema = {
  ...deploymentObjectSchema,
  properties: { ...deploymentObjectSchema.properties, commit: commitSchema },
};

export const eventSchema = record({
  id: uuid,
  ...timestamps,
  agent_id: uuid,
  deployment_object_id: uuid,
  event_type: str,
  status: str,
  message: nullableStr,
});

export const stackSchema = record({ id: uuid, ...timestamps, name: str, description: nullableStr, generator_id: uuid });

export const stackDetailSchema = {
  ...stackSchema,
  properties: {
    ...stackSchema.properties,
    path: { type: ['string', 'null'], description: 'Stack directory relative to the sync root' },
    labels: { type: 'array', items: str },
    annotations: { type: 'object', additionalProperties: str },
    latest_object: {
      type: ['object', 'null'],
      properties: {
        id: uuid,
        sequence_id: { type: 'integer' },
        yaml_checksum: str,
        is_deletion_marker: { type: 'boolean' },
        submitted_at: ts,
      },
    },
    commit: commitSchema,
  },
};

export const agentLabelSchema = record({ id: uuid, agent_id: uuid, label: str });
export const agentAnnotationSchema = record({ id: uuid, agent_id: uuid, key: str, value: str });
export const stackLabelSchema = record({ id: uuid, stack_id: uuid, label: str });
export const stackAnnotationSchema = record({ id: uuid, stack_id: uuid, key: str, value: str });
export const targetSchema = record({ id: uuid, agent_id: uuid, stack_id: uuid });

export const generatorSchema = record(
  {
    id: uuid,
    ...timestamps,
    name: str,
    description: nullableStr,
    last_active_at: nullableTs,
    is_active: { type: 'boolean' },
    is_system: { type: 'boolean', description: 'brokkr v1 field; always false (every generator here is a repository)' },
  },
  'A generator (the API key hash is never sent)',
);

export const syncStateSchema = {
  type: 'object',
  properties: {
    generator_id: uuid,
    generator_name: nullableStr,
    orphaned: { type: 'boolean', description: 'No longer synced by this daemon (removed): its stacks stay' },
    repo: str,
    branch: str,
    root: str,
    cursor_commit: nullableStr,
    cursor_committed_at: nullableTs,
    last_sync_at: nullableTs,
    last_error: nullableStr,
    ...conditionSchemaProperties,
  },
} as const;

export const syncErrorSchema = {
  type: 'object',
  properties: {
    generator_id: uuid,
    stack_path: str,
    stack_name: nullableStr,
    commit_sha: str,
    file: nullableStr,
    line: { type: ['integer', 'null'] },
    message: str,
    created_at: ts,
  },
} as const;

export const arrayOf = (items: unknown) => ({ type: 'array', items }) as const;

/** A uuid in a path, query or body: TypeBox, so route handlers get it typed (the same JSON Schema as `uuid`). */
export const uuidText = Type.String({ format: 'uuid' });

/** `{id}` path parameter. */
export const idParams = Type.Object({ id: uuidText });

/**
 * Query-string integers are declared as digit strings: request coercion is off (so a JSON body's
 * `"name": 123` is refused instead of silently becoming "123"), and query values are strings.
 */
export function digits(description: string, maxDigits = 9) {
  return Type.String({ pattern: `^[0-9]{1,${maxDigits}}$`, description });
}

/** 0..60 as a string (long-poll seconds). */
export const waitParam = Type.String({
  pattern: '^(?:[0-9]|[1-5][0-9]|60)$',
  description: 'whole seconds from 0 to 60 (long poll)',
});

export const boolParam = Type.Unsafe<'true' | 'false' | '1' | '0'>({ type: 'string', enum: ['true', 'false', '1', '0'] });

/** A label or annotation key/value: 1..64 characters (the manifest rules check the details). */
export const shortText = Type.String({ minLength: 1, maxLength: 64 });
/** Names of agents and clusters (VARCHAR(255) in the data model). */
export const nameText = Type.String({ minLength: 1, maxLength: 255 });

/** brokkr's DeploymentHealth: one agent's latest health report on one object. */
export const deploymentHealthSchema = record({
  id: uuid,
  agent_id: uuid,
  deployment_object_id: uuid,
  status: { type: 'string', enum: ['healthy', 'degraded', 'failing', 'unknown'] },
  summary: { type: ['string', 'null'], description: 'The agent’s summary (brokkr agents send a JSON-encoded HealthSummary)' },
  checked_at: ts,
  created_at: ts,
  updated_at: ts,
});
