/** Sync leases on SQLite: the same rule as on every engine, with the process clock (all writers share one machine). */
import type { SyncLease } from '../store.js';
import type { SqliteDb } from './connection.js';

/** Take or extend the lease: succeeds when nobody holds it, holder does, or the holder's lease ran out. */
export function acquireSyncLease(db: SqliteDb, generatorId: string, holder: string, ttlMs: number): boolean {
  const now = new Date();
  const expires = new Date(now.getTime() + ttlMs).toISOString();
  const row = db
    .stmt<{ holder: string }>(
      `INSERT INTO sync_leases (generator_id, holder, acquired_at, expires_at) VALUES (@g, @h, @now, @exp)
       ON CONFLICT (generator_id) DO UPDATE SET
         acquired_at = CASE WHEN sync_leases.holder = excluded.holder THEN sync_leases.acquired_at ELSE excluded.acquired_at END,
         holder = excluded.holder, expires_at = excluded.expires_at
       WHERE sync_leases.holder = excluded.holder OR sync_leases.expires_at <= @now
       RETURNING holder`,
    )
    .get({ g: generatorId, h: holder, now: now.toISOString(), exp: expires });
  return row?.holder === holder;
}

export function releaseSyncLease(db: SqliteDb, generatorId: string, holder: string): void {
  db.stmt('DELETE FROM sync_leases WHERE generator_id = ? AND holder = ?').run(generatorId, holder);
}

export function listSyncLeases(db: SqliteDb): SyncLease[] {
  return db.stmt<SyncLease>('SELECT generator_id, holder, acquired_at, expires_at FROM sync_leases ORDER BY generator_id').all();
}

/** Inside applyCommit's transaction: does holder have an unexpired lease right now? */
export function holdsSyncLease(db: SqliteDb, generatorId: string, holder: string): boolean {
  return (
    db
      .stmt('SELECT 1 FROM sync_leases WHERE generator_id = ? AND holder = ? AND expires_at > ?')
      .get(generatorId, holder, new Date().toISOString()) !== undefined
  );
}

export function announceReplica(db: SqliteDb, id: string, ttlMs: number): number {
  const now = new Date();
  db.stmt(
    `INSERT INTO replicas (id, started_at, expires_at) VALUES (?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
  ).run(id, now.toISOString(), new Date(now.getTime() + ttlMs).toISOString());
  db.stmt('DELETE FROM replicas WHERE expires_at <= ?').run(now.toISOString());
  return db.stmt<{ n: number }>('SELECT count(*) AS n FROM replicas').get()!.n;
}

export function withdrawReplica(db: SqliteDb, id: string): void {
  db.stmt('DELETE FROM replicas WHERE id = ?').run(id);
}
