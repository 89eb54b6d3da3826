/** Repositories on SQLite: the operator's declarations, one per generator; removal and prune. */
import { NotFoundError, type Repository, type RepositoryAuth, type RepositorySpec } from '../store.js';
import type { SqliteDb } from './connection.js';
import { ensureGenerator } from './generators-and-sync.js';
import { nowIso } from './rows.js';

const COLUMNS =
  'generator_id, name, url, branch, root, interval_seconds, webhook_secret, auth_username_env, auth_password_env, auth_ssh_key_file, origin, created_at, updated_at';

export interface RepositoryRow extends Omit<Repository, 'auth'> {
  auth_username_env: string | null;
  auth_password_env: string | null;
  auth_ssh_key_file: string | null;
}

/** Row → record (both engines store auth as three nullable columns). */
export function toRepository({ auth_username_env, auth_password_env, auth_ssh_key_file, ...rest }: RepositoryRow): Repository {
  const auth: RepositoryAuth | null = auth_ssh_key_file
    ? { sshKeyFile: auth_ssh_key_file }
    : auth_username_env && auth_password_env
      ? { usernameEnv: auth_username_env, passwordEnv: auth_password_env }
      : null;
  return { ...rest, auth };
}

/** The three auth columns of a spec, in column order. */
export function authColumns(auth: RepositoryAuth | null): [string | null, string | null, string | null] {
  if (!auth) return [null, null, null];
  return 'sshKeyFile' in auth ? [null, null, auth.sshKeyFile] : [auth.usernameEnv, auth.passwordEnv, null];
}

export function saveRepository(db: SqliteDb, spec: RepositorySpec): Repository {
  return db.tx(() => {
    const generator = ensureGenerator(db, spec.name, `Git repository ${spec.name}`);
    const row = db
      .stmt<RepositoryRow>(
        `INSERT INTO repositories (generator_id, name, url, branch, root, interval_seconds, webhook_secret,
           auth_username_env, auth_password_env, auth_ssh_key_file, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (generator_id) DO UPDATE SET url = excluded.url, branch = excluded.branch, root = excluded.root,
           interval_seconds = excluded.interval_seconds, webhook_secret = excluded.webhook_secret,
           auth_username_env = excluded.auth_username_env, auth_password_env = excluded.auth_password_env,
           auth_ssh_key_file = excluded.auth_ssh_key_file, origin = excluded.origin, updated_at = ?
         RETURNING ${COLUMNS}`,
      )
      .get(
        generator.id, spec.name, spec.url, spec.branch, spec.root, spec.interval_seconds, spec.webhook_secret,
        ...authColumns(spec.auth), spec.origin, nowIso(),
      )!;
    return toRepository(row);
  });
}

export function listRepositories(db: SqliteDb): Repository[] {
  return db.stmt<RepositoryRow>(`SELECT ${COLUMNS} FROM repositories ORDER BY name`).all().map(toRepository);
}

export function removeRepository(db: SqliteDb, generatorId: string, prune: boolean): void {
  db.tx(() => {
    const removed = db.stmt('DELETE FROM repositories WHERE generator_id = ?').run(generatorId).changes;
    const live = db.stmt('SELECT 1 FROM generators WHERE id = ? AND deleted_at IS NULL').get(generatorId);
    if (!removed && !live) throw new NotFoundError(`no repository or generator ${generatorId}`);
    db.stmt('DELETE FROM sync_leases WHERE generator_id = ?').run(generatorId);
    // The data model's trigger soft-deletes the stacks (each appending its deletion marker) and the objects.
    if (prune && live) db.stmt('UPDATE generators SET deleted_at = ? WHERE id = ?').run(nowIso(), generatorId);
  });
}
