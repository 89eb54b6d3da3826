/** Repositories on PostgreSQL: the operator's declarations, one per generator; removal and prune. */
import { NotFoundError, type Repository, type RepositorySpec } from '../store.js';
import { authColumns, toRepository, type RepositoryRow } from '../sqlite/repositories.js';
import { ensureGenerator } from './generators-and-sync.js';
import { uuidParam, type Sql } from './pg-db.js';

const COLUMNS =
  'generator_id::text AS generator_id, name, url, branch, root, interval_seconds, webhook_secret, auth_username_env, auth_password_env, auth_ssh_key_file, origin, created_at, updated_at';

/** Call inside a transaction (the generator and its repository row appear together). */
export async function saveRepository(sql: Sql, spec: RepositorySpec): Promise<Repository> {
  const generator = await ensureGenerator(sql, spec.name, `Git repository ${spec.name}`);
  const row = await sql.one<RepositoryRow>(
    `INSERT INTO repositories (generator_id, name, url, branch, root, interval_seconds, webhook_secret,
       auth_username_env, auth_password_env, auth_ssh_key_file, origin)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (generator_id) DO UPDATE SET url = excluded.url, branch = excluded.branch, root = excluded.root,
       interval_seconds = excluded.interval_seconds, webhook_secret = excluded.webhook_secret,
       auth_username_env = excluded.auth_username_env, auth_password_env = excluded.auth_password_env,
       auth_ssh_key_file = excluded.auth_ssh_key_file, origin = excluded.origin, updated_at = now()
     RETURNING ${COLUMNS}`,
    [generator.id, spec.name, spec.url, spec.branch, spec.root, spec.interval_seconds, spec.webhook_secret, ...authColumns(spec.auth), spec.origin],
  );
  return toRepository(row!);
}

export async function listRepositories(sql: Sql): Promise<Repository[]> {
  return (await sql.rows<RepositoryRow>(`SELECT ${COLUMNS} FROM repositories ORDER BY name COLLATE "C"`)).map(toRepository);
}

/** Call inside a transaction. */
export async function removeRepository(sql: Sql, generatorId: string, prune: boolean): Promise<void> {
  const id = uuidParam(generatorId);
  const removed = await sql.run('DELETE FROM repositories WHERE generator_id = $1', [id]);
  const live = await sql.one('SELECT 1 FROM generators WHERE id = $1 AND deleted_at IS NULL FOR UPDATE', [id]);
  if (!removed && !live) throw new NotFoundError(`no repository or generator ${generatorId}`);
  await sql.run('DELETE FROM sync_leases WHERE generator_id = $1', [id]);
  // The data model's trigger soft-deletes the stacks (each appending its deletion marker) and the objects.
  if (prune && live) await sql.run('UPDATE generators SET deleted_at = now() WHERE id = $1', [id]);
}
