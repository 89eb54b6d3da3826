/** Maps SQLite constraint failures to the store's error types (409 / 404 at the HTTP layer). */
import { ConflictError, NotFoundError } from '../store.js';

interface SqliteLikeError {
  code?: string;
  message: string;
}

/** Translate a better-sqlite3 error; `what` names the thing being written, for the message. */
export function mapSqliteError(err: unknown, what: string): unknown {
  const e = err as SqliteLikeError;
  if (typeof e?.code !== 'string') return err;
  if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new ConflictError(`${what} already exists (${e.message.replace(/^UNIQUE constraint failed: /, 'unique: ')})`);
  }
  if (e.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return new NotFoundError(`${what}: a referenced record does not exist`);
  }
  return err;
}

/** Run fn, rethrowing SQLite constraint errors as ConflictError / NotFoundError. */
export function guarded<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw mapSqliteError(err, what);
  }
}
