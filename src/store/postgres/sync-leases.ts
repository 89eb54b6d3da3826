/** Sync leases on PostgreSQL: one statement each, timed by the database's clock so replica clock skew cannot matter. */
import type { SyncLease } from '../store.js';
import { guarded } from './errors.js';
import { uuidParam, type Sql } from './pg-db.js';

/**
 * Take or extend the lease: succeeds when nobody holds it, holder does, or the holder's lease ran
 * out. The conditional upsert is atomic: of replicas racing for a free lease, exactly one gets it.
 */
export async function acquireSyncLease(sql: Sql, generatorId: string, holder: string, ttlMs: number): Promise<boolean> {
  const row = await guarded(`sync lease of generator ${generatorId}`, () =>
    sql.one<{ holder: string }>(
      `INSERT INTO sync_leases (generator_id, holder, acquired_at, expires_at)
       VALUES ($1, $2, clock_timestamp(), clock_timestamp() + $3 * interval '1 millisecond')
       ON CONFLICT (generator_id) DO UPDATE SET
         acquired_at = CASE WHEN sync_leases.holder = excluded.holder THEN sync_leases.acquired_at ELSE excluded.acquired_at END,
         holder = excluded.holder, expires_at = excluded.expires_at
       WHERE sync_leases.holder = excluded.holder OR sync_leases.expires_at <= clock_timestamp()
       RETURNING holder`,
      [uuidParam(generatorId), holder, ttlMs],
    ),
  );
  return row?.holder === holder;
}

export async function releaseSyncLease(sql: Sql, generatorId: string, holder: string): Promise<void> {
  await sql.run('DELETE FROM sync_leases WHERE generator_id = $1 AND holder = $2', [uuidParam(generatorId), holder]);
}

export async function listSyncLeases(sql: Sql): Promise<SyncLease[]> {
  return sql.rows<SyncLease>('SELECT generator_id, holder, acquired_at, expires_at FROM sync_leases ORDER BY generator_id');
}

export async function announceReplica(sql: Sql, id: string, ttlMs: number): Promise<number> {
  await sql.run(
    `INSERT INTO replicas (id, started_at, expires_at) VALUES ($1, clock_timestamp(), clock_timestamp() + $2 * interval '1 millisecond')
     ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
    [id, ttlMs],
  );
  await sql.run('DELETE FROM replicas WHERE expires_at <= clock_timestamp()');
  return (await sql.one<{ n: number }>('SELECT count(*)::int AS n FROM replicas'))!.n;
}

export async function withdrawReplica(sql: Sql, id: string): Promise<void> {
  await sql.run('DELETE FROM replicas WHERE id = $1', [id]);
}
