/** Entry points to a PostgreSQL database: open a migrated Store, migrate, check; backups are pg_dump's job. */
import pg from 'pg';
import { redactDbTarget } from '../db-target.js';
import type { MigrationRun } from '../migration-result.js';
import type { Store } from '../store.js';
import { isUnavailable, unavailable } from './errors.js';
import { currentPgVersion, migratePostgres, PG_LATEST_VERSION } from './migrator.js';
import { clientConfig, PgDb } from './pg-db.js';
import { PostgresStore } from './postgres-store.js';

/** Every trigger the migrations create: `db check` reports any that someone dropped. */
export const PG_TRIGGERS = [
  'update_stack_timestamp', 'trigger_handle_stack_soft_delete', 'trigger_stack_hard_delete',
  'update_deployment_object_timestamp', 'prevent_deployment_object_update', 'trigger_hard_delete_deployment_objects',
  'update_generators_timestamp', 'cascade_soft_delete_generators', 'trigger_generator_hard_delete',
  'update_agent_timestamp', 'cascade_soft_delete_agents', 'trigger_agent_hard_delete',
  'update_agent_event_timestamp', 'cleanup_object_provenance', 'cleanup_generator_sync_rows', 'cleanup_generator_sync_leases',
  ...['generators', 'stacks', 'agents', 'deployment_objects', 'agent_events'].map((t) => `protect_${t}_created_at`),
] as const;

/** One plain connection for maintenance; connection failures become StoreUnavailableError (password redacted). */
async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(clientConfig(url));
  client.on('error', () => {}); // a drop mid-run surfaces as the failing query's error
  try {
    await client.connect();
  } catch (err) {
    client.end().catch(() => {});
    throw isUnavailable(err) ? unavailable(err, url) : new Error(`cannot open database ${redactDbTarget(url)}: ${(err as Error).message}`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Migrate (under the advisory lock) and open a store listening for other replicas' changes. */
export async function openPostgresStore(url: string): Promise<Store> {
  const run = await migratePostgresDatabase(url);
  if (run.error) throw new Error(`cannot open database ${redactDbTarget(url)}: ${run.error}`);
  const db = PgDb.open(url);
  try {
    return await PostgresStore.open(db);
  } catch (err) {
    await db.close();
    throw err;
  }
}

export async function migratePostgresDatabase(url: string, opts: { target?: number } = {}): Promise<MigrationRun> {
  return withClient(url, (client) => migratePostgres(client, opts));
}

/** Connectivity (connecting at all), schema version, and that every trigger of the data model is present. */
export async function checkPostgresDatabase(url: string): Promise<{ ok: boolean; version: number; problems: string[] }> {
  return withClient(url, async (client) => {
    const problems: string[] = [];
    const version = await currentPgVersion(client);
    if (version < PG_LATEST_VERSION) problems.push(`schema version ${version} is behind ${PG_LATEST_VERSION}: run brokkr-sync db migrate`);
    if (version > PG_LATEST_VERSION) problems.push(`schema version ${version} is newer than this brokkr-sync knows (${PG_LATEST_VERSION})`);
    if (version >= PG_LATEST_VERSION) {
      const rows = await client.query<{ tgname: string }>(
        'SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND pg_table_is_visible(c.oid)',
      );
      const present = new Set(rows.rows.map((r) => r.tgname));
      for (const name of PG_TRIGGERS) if (!present.has(name)) problems.push(`trigger ${name} is missing`);
    }
    return { ok: problems.length === 0, version, problems };
  });
}

/** PostgreSQL has its own consistent online backup: say how, never copy anything ourselves. */
export function postgresBackupUnsupported(): Error {
  return new Error(
    'brokkr-sync db backup copies SQLite files only; back up a PostgreSQL database with pg_dump, e.g. ' +
      'pg_dump --format=custom "$BROKKR_DB" > brokkr.dump (restore with pg_restore)',
  );
}
