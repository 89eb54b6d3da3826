/** Operators (SPEC §11): named admin PAKs, each with a role; the audit log names them. */
import { ConflictError } from './store.js';

export const OPERATOR_ROLES = ['admin', 'readonly'] as const;
/** admin: reads and writes everything; readonly: reads everything an admin reads, writes nothing. */
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** One operator as listed: never its PAK nor the PAK's hash. */
export interface Operator {
  id: string;
  name: string;
  role: OperatorRole;
  created_at: string;
  /** Last authenticated request, recorded at most about once a minute; null: never used. */
  last_used_at: string | null;
}

/** The operator BROKKR_ADMIN_PAK (or the generated bootstrap PAK) belongs to. */
export const BOOTSTRAP_OPERATOR = 'admin';

/** Thrown when revoking would leave no admin operator (mapped to HTTP 409 `last_admin`). */
export class LastAdminError extends ConflictError {
  override name = 'LastAdminError';
}
