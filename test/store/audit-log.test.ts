/** The audit log in the store, on every engine: append-only for any client, written with the change it records, never a secret. */
import { describe, expect, it } from 'vitest';
import { migrateDatabase, openStore } from '../../src/store/open-store.js';
import { ENGINES, openEngineStore, rawSql, tempDbPath } from './store-fixture.js';
import { createTestDatabase, emptyTestDatabase } from '../support/postgres.js';
import type { StoreEngine } from '../../src/store/store.js';

const INSERT = "INSERT INTO audit_logs (actor_type, actor_name, action, resource_type, resource_id) VALUES ('admin', 'alice', 'agent.created', 'agent', 'x')";

describe.each(ENGINES)('audit log (%s)', (engine) => {
  it('a trigger refuses UPDATE and DELETE of audit rows, for any client of the database', async () => {
    const { raw } = await openEngineStore(engine);
    await raw.exec(INSERT);
    await expect(raw.exec("UPDATE audit_logs SET actor_name = 'mallory'")).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(raw.exec('DELETE FROM audit_logs')).rejects.toThrow(/append-only: DELETE refused/);
    expect(await raw.count('audit_logs', "actor_name = 'alice'")).toBe(1);
  });

  it('rows read back newest first, filtered, and paged by a stable cursor', async () => {
    const { store, raw } = await openEngineStore(engine);
    for (let i = 0; i < 5; i++) {
      await raw.exec(
        "INSERT INTO audit_logs (actor_type, actor_name, action, resource_type, resource_id) VALUES ('admin', ?, ?, 'agent', ?)",
        i % 2 ? 'bob' : 'alice',
        i === 4 ? 'label.added' : 'agent.created',
        `a${i}`,
      );
    }
    const all = await store.listAuditLogs();
    expect(all.total).toBe(5);
    expect(all.logs.map((l) => l.resource_id)).toEqual(['a4', 'a3', 'a2', 'a1', 'a0']);
    expect((await store.listAuditLogs({ actor: 'bob' })).logs.map((l) => l.resource_id)).toEqual(['a3', 'a1']);
    expect((await store.listAuditLogs({ action: 'agent.*' })).total).toBe(4);
    expect((await store.listAuditLogs({ action: 'label.added' })).logs.map((l) => l.resource_id)).toEqual(['a4']);
    expect((await store.listAuditLogs({ resourceType: 'agent', resourceId: 'a2' })).logs).toHaveLength(1);
    const first = await store.listAuditLogs({ limit: 2 });
    expect(first.logs.map((l) => l.resource_id)).toEqual(['a4', 'a3']);
    const second = await store.listAuditLogs({ limit: 2, beforeSeq: first.next_cursor! });
    expect(second.logs.map((l) => l.resource_id)).toEqual(['a2', 'a1']);
    const third = await store.listAuditLogs({ limit: 2, beforeSeq: second.next_cursor! });
    expect(third).toMatchObject({ next_cursor: null, total: 5 });
    expect(third.logs.map((l) => l.resource_id)).toEqual(['a0']);
    expect((await store.listAuditLogs({ limit: 2, offset: 2 })).logs.map((l) => l.resource_id)).toEqual(['a2', 'a1']);
    expect((await store.listAuditLogs({ since: new Date(Date.now() + 60_000).toISOString() })).total).toBe(0);
  });
});

async function freshTarget(engine: StoreEngine): Promise<string> {
  if (engine === 'sqlite') return tempDbPath();
  const url = await createTestDatabase('audit');
  await emptyTestDatabase(url);
  return url;
}

describe.each(ENGINES)('operators migration (%s)', (engine) => {
  it('an existing admin PAK becomes the operator "admin" with the admin role', async () => {
    const target = await freshTarget(engine);
    expect((await migrateDatabase(target, { target: 7 })).error).toBeUndefined();
    const raw = rawSql(engine, target);
    await raw.exec("INSERT INTO admin_paks (pak_hash) VALUES ('old-hash')");
    expect((await migrateDatabase(target)).error).toBeUndefined();
    expect(await raw.count('admin_paks', "name = 'admin' AND role = 'admin' AND id IS NOT NULL AND pak_hash = 'old-hash'")).toBe(1);
    const store = await openStore(target);
    try {
      expect(await store.findPrincipal('old-hash')).toMatchObject({ role: 'admin' });
    } finally {
      await store.close();
    }
  });
});
