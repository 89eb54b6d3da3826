/**
 * The brokkr v1 facts in fixtures/brokkr-v1/, loaded for ajv: brokkr's OpenAPI 3.0 schemas
 * (`nullable: true`, `#/components/schemas/X` references) translated to JSON Schema, and the
 * shared routes with the brokkr-shaped requests and the responses we hold ourselves to.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';

type Json = Record<string, unknown>;

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/brokkr-v1/${name}`, import.meta.url), 'utf8'));

export interface BrokkrRoute {
  method: string;
  /** brokkr's path template, below /api/v1. */
  path: string;
  /** Who calls: the admin PAK or the agent's own PAK. */
  as: 'admin' | 'agent';
  /** Path parameters; `{agent}`, `{stack}`, `{object}`, `{generator}` stand for the world's ids. */
  params?: Record<string, string>;
  query?: Record<string, string>;
  /** The body brokkr's clients send (same placeholders). */
  body?: unknown;
  status: number;
  /** A schema name as `{$ref: 'Agent'}`, an array of one, an inline schema, or null (no body). */
  response: Json | null;
  code?: string;
}

export interface NotOffered {
  method: string;
  path: string;
  why: string;
}

const SCHEMA_ID = 'brokkr-v1';
const REF_PREFIX = '#/components/schemas/';

/** OpenAPI 3.0 → JSON Schema: `nullable` becomes a `null` type (or an anyOf), references point into our definitions. */
export function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (!schema || typeof schema !== 'object') return schema;
  const { nullable, ...rest } = schema as Json;
  const out: Json = {};
  for (const [key, value] of Object.entries(rest)) {
    if (key === '$ref' && typeof value === 'string') {
      out.$ref = `${SCHEMA_ID}#/definitions/${value.startsWith(REF_PREFIX) ? value.slice(REF_PREFIX.length) : value}`;
    } else out[key] = toJsonSchema(value);
  }
  if (nullable !== true) return out;
  if (typeof out.type === 'string') return { ...out, type: [out.type, 'null'] };
  return { anyOf: [out, { type: 'null' }] };
}

const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;

/** The fixture's routes and a validator per response schema. */
export function loadBrokkrV1() {
  const schemas = fixture('schemas.json') as { source: Json; schemas: Record<string, Json> };
  const routes = fixture('routes.json') as { source: Json; routes: BrokkrRoute[]; not_offered: NotOffered[] };
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const definitions = Object.fromEntries(Object.entries(schemas.schemas).map(([name, s]) => [name, toJsonSchema(s)]));
  ajv.addSchema({ $id: SCHEMA_ID, definitions });
  const cache = new Map<string, ValidateFunction>();
  const validator = (schema: Json): ValidateFunction => {
    const key = JSON.stringify(schema);
    let validate = cache.get(key);
    if (!validate) cache.set(key, (validate = ajv.compile(toJsonSchema(schema) as Json)));
    return validate;
  };
  return {
    source: schemas.source,
    routes: routes.routes,
    notOffered: routes.not_offered,
    /** Validation errors of a response body against a route's schema ([] when it conforms). */
    check(schema: Json, body: unknown): string[] {
      const validate = validator(schema);
      return validate(body) ? [] : (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '(body)'} ${e.message}`);
    },
  };
}
