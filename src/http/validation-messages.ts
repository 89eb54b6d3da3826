/** Turn ajv's validation errors into one message that names the field and says what is wrong with it. */

interface AjvErrorLike {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  parentSchema?: { description?: string };
}

/** `body/labels/0` → `body.labels[0]` (what a human would type). */
function fieldPath(dataVar: string, instancePath: string): string {
  let out = dataVar;
  for (const part of instancePath.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : `.${key}`;
  }
  return out;
}

function describe(e: AjvErrorLike, where: string): string {
  const p = e.params;
  switch (e.keyword) {
    case 'required':
      return `${where}.${String(p.missingProperty)} is required`;
    case 'additionalProperties':
      return `${where} has an unknown field "${String(p.additionalProperty).slice(0, 64)}"`;
    case 'type':
      return `${where} must be ${String(p.type).replace(',', ' or ')}`;
    case 'format':
      return p.format === 'uuid' ? `${where} must be a UUID` : `${where} must be a valid ${String(p.format)}`;
    case 'enum':
      return `${where} must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'minLength':
      return `${where} must be at least ${String(p.limit)} character${p.limit === 1 ? '' : 's'}`;
    case 'maxLength':
      return `${where} must be at most ${String(p.limit)} characters`;
    case 'pattern':
      return `${where} must be ${e.parentSchema?.description ?? `like ${String(p.pattern)}`}`;
    case 'maxItems':
      return `${where} must have at most ${String(p.limit)} items`;
    case 'maxProperties':
      return `${where} must have at most ${String(p.limit)} entries`;
    default:
      return `${where} ${e.message ?? 'is invalid'}`;
  }
}

/** fastify `schemaErrorFormatter`: the first error, phrased for humans. */
export function formatValidationErrors(errors: AjvErrorLike[], dataVar: string): Error {
  const first = errors[0];
  const message = first ? describe(first, fieldPath(dataVar, first.instancePath)) : `${dataVar} is invalid`;
  return new Error(message);
}
