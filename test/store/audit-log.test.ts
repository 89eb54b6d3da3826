/** The audit log in the store, on every engine: append-only for any client, written with the change it records, never a secret. */
import { describe, expect, it } from 'vitest';
import { migrateDatabase, openStore } from '../../src/store/open-store.js';
import { ENGINES, openEngineStore, rawSql, sqlite3, tempDbPath } from './store-fixture.js';
import { createTestDatabase, emptyTestDatabase } from '../support/postgres.js';
import type { StoreEngine } from '../../src/store/store.js';

const INSERT = "INSERT INTO audit_logs (actor_type, actor_name, action, resource_type, resource_id) VALUES ('admin', 'alice', 'agent.created', 'agent', 'x')";

describe.each(ENGINES)('audit log (%s)', (engine) => {
  it('a trigger refuses UPDATE and DELETE of audit rows, for any client of the database', async () => {
    const { raw } = await openEngineStore(engine);
    await raw.exec(INSERT);
    await expect(raw.exec("UPDATE audit_logs SET actor_name = 'mallory'")).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(raw.exec('DELETE FROM audit_logs')).rejects.toThrow(/append-only: DELETE refused/);
    if (engine === 'postgres') await expect(raw.exec('TRUNCATE audit_logs')).rejects.toThrow(/append-only: TRUNCATE refused/);
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

  it('recordAudit writes one row for an action that changes nothing else (a sync asked for)', async () => {
    const { store } = await openEngineStore(engine);
    await store.recordAudit(
      { actorType: 'admin', actor: 'carol', actorId: null, ip: '127.0.0.1', userAgent: 'curl/8' },
      { action: 'repository.sync_requested', resource_type: 'repository', resource_id: 'g1', details: { name: 'infra', commit: 'abc' } },
    );
    const [row] = (await store.listAuditLogs({ action: 'repository.sync_requested' })).logs;
    expect(row).toMatchObject({ actor_type: 'admin', actor_name: 'carol', ip_address: '127.0.0.1', resource_id: 'g1', details: { name: 'infra', commit: 'abc' } });
  });
});

describe('audit log in the sqlite3 shell (Debian 12: SQLite 3.40)', () => {
  it('the shell can append, and its UPDATE and DELETE are refused by the trigger', async () => {
    const { target } = await openEngineStore('sqlite');
    sqlite3(target, `${INSERT};`);
    expect(() => sqlite3(target, "UPDATE audit_logs SET actor_name = 'mallory';")).toThrow(/append-only: UPDATE refused/);
    expect(() => sqlite3(target, 'DELETE FROM audit_logs;')).toThrow(/append-only: DELETE refused/);
    expect(sqlite3(target, "SELECT actor_name, length(id), timestamp LIKE '____-__-__T__:__:__.___Z' FROM audit_logs;").trim()).toBe('alice|36|1');
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

const alice = { actorType: 'admin' as const, actor: 'alice', actorId: null, ip: '10.0.0.7', userAgent: 'vitest' };

describe.each(ENGINES)('audited writes (%s)', (engine) => {
  it('each admin write with an audit context leaves one row naming the operator, in its own transaction', async () => {
    const { store } = await openEngineStore(engine);
    const agent = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h1', labels: ['prod'], annotations: { region: 'eu' } }, alice);
    expect((await store.listLabels('agent', agent.id)).map((l) => l.label)).toEqual(['prod']);
    await store.updateAgent(agent.id, { status: 'INACTIVE' }, alice);
    await store.setAgentPakHash(agent.id, 'h2', alice);
    await store.addLabel('agent', agent.id, 'canary', alice);
    await store.removeLabel('agent', agent.id, 'canary', alice);
    await store.removeLabel('agent', agent.id, 'never-there', alice); // nothing removed: nothing recorded
    await store.setAnnotation('agent', agent.id, 'tier', 'web', alice);
    await store.removeAnnotation('agent', agent.id, 'tier', alice);
    const repo = await store.saveRepository(
      { name: 'platform', url: 'https://bob:hunter2@git.example.com/p.git', branch: null, root: '', interval_seconds: null, webhook_secret: 'hook-s3cret', auth: { usernameEnv: 'U', passwordEnv: 'P' }, origin: 'api' },
      alice,
    );
    await store.removeRepository(repo.generator_id, { prune: false }, alice);
    await store.softDeleteAgent(agent.id, alice);
    const page = await store.listAuditLogs();
    expect(page.logs.map((l) => l.action).reverse()).toEqual([
      'agent.created',
      'agent.updated',
      'agent.pak_rotated',
      'label.added',
      'label.removed',
      'annotation.set',
      'annotation.removed',
      'repository.saved',
      'repository.removed',
      'agent.deleted',
    ]);
    for (const log of page.logs) expect(log).toMatchObject({ actor_type: 'admin', actor_name: 'alice', ip_address: '10.0.0.7', user_agent: 'vitest' });
    expect(page.logs.at(-1)).toMatchObject({ resource_type: 'agent', resource_id: agent.id, details: { name: 'edge', cluster_name: 'eu', labels: ['prod'], annotations: { region: 'eu' } } });
    const saved = page.logs.find((l) => l.action === 'repository.saved')!;
    expect(saved.details).toMatchObject({ name: 'platform', url: 'https://git.example.com/p.git', auth_kind: 'token', push_hook_signed: true });
    const text = JSON.stringify(page.logs);
    for (const secret of ['hunter2', 'hook-s3cret', 'h1', 'h2']) expect(text).not.toContain(`"${secret}`);
    expect(text).not.toContain('hunter2');
  });

  it('a write without an audit context (the syncer, the daemon) records nothing', async () => {
    const { store } = await openEngineStore(engine);
    await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h1' });
    expect((await store.listAuditLogs()).total).toBe(0);
  });

  it('a failing write leaves no audit row, and a refused audit row leaves no change', async () => {
    const { store, raw } = await openEngineStore(engine);
    await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h1' }, alice);
    await expect(store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h2' }, alice)).rejects.toThrow(/already exists/);
    await expect(store.revokeOperator('nobody', alice)).rejects.toThrow(/no operator named "nobody"/);
    expect((await store.listAuditLogs()).logs.map((l) => l.action)).toEqual(['agent.created']);
    // The audit row is part of the write: when it cannot be written, the change is rolled back too.
    await expect(store.createAgent({ name: 'web', cluster_name: 'eu', pak_hash: 'h3' }, { ...alice, actorType: 'robot' as never })).rejects.toThrow();
    expect(await raw.count('agents', "name = 'web'")).toBe(0);
    expect(await raw.count('agent_labels')).toBe(0);
  });
});

describe.each(ENGINES)('operators (%s)', (engine) => {
  it('named PAKs with a role resolve to their operator; revoking one stops it at once and is recorded', async () => {
    const { store } = await openEngineStore(engine);
    expect(await store.addAdminPakHashIfNone('boot')).toBe(true);
    expect(await store.findPrincipal('boot')).toMatchObject({ role: 'admin', name: 'admin' });
    const viewer = await store.createOperator({ name: 'viewer', role: 'readonly', pak_hash: 'ro-hash' }, alice);
    expect(viewer).toMatchObject({ name: 'viewer', role: 'readonly', last_used_at: null });
    expect(JSON.stringify(viewer)).not.toContain('ro-hash');
    expect(await store.findPrincipal('ro-hash')).toEqual({ role: 'readonly', name: 'viewer', operator_id: viewer.id });
    await expect(store.createOperator({ name: 'viewer', role: 'admin', pak_hash: 'x' })).rejects.toThrow(/already exists/);
    await store.touchOperator(viewer.id);
    const listed = await store.listOperators();
    expect(listed.map((o) => [o.name, o.role])).toEqual([
      ['admin', 'admin'],
      ['viewer', 'readonly'],
    ]);
    expect(listed[1]!.last_used_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(JSON.stringify(listed)).not.toMatch(/boot|ro-hash|pak_hash/);
    const changes: unknown[] = [];
    store.onChange((c) => changes.push(c));
    await store.revokeOperator('viewer', alice);
    expect(changes).toContainEqual({ kind: 'auth', agentId: null });
    expect(await store.findPrincipal('ro-hash')).toBeNull();
    expect((await store.listAuditLogs({ resourceType: 'operator' })).logs.map((l) => [l.action, l.details])).toEqual([
      ['pak.revoked', { name: 'viewer', role: 'readonly' }],
      ['pak.created', { name: 'viewer', role: 'readonly' }],
    ]);
  });

  it('the last admin cannot be revoked; with a second admin it can', async () => {
    const { store } = await openEngineStore(engine);
    await store.addAdminPakHashIfNone('boot');
    await store.createOperator({ name: 'viewer', role: 'readonly', pak_hash: 'ro' });
    await expect(store.revokeOperator('admin', alice)).rejects.toThrow(/"admin" is the last admin: create another admin PAK/);
    expect(await store.findPrincipal('boot')).toMatchObject({ role: 'admin' });
    expect((await store.listAuditLogs()).total).toBe(0);
    await store.createOperator({ name: 'ops', role: 'admin', pak_hash: 'ops' });
    await store.revokeOperator('admin', alice);
    expect(await store.findPrincipal('boot')).toBeNull();
    expect(await store.hasAdminPak()).toBe(true);
  });

  it('BROKKR_ADMIN_PAK (setAdminPakHash) replaces the bootstrap operator\'s PAK and keeps the others', async () => {
    const { store } = await openEngineStore(engine);
    await store.setAdminPakHash('env-1');
    await store.createOperator({ name: 'viewer', role: 'readonly', pak_hash: 'ro' });
    await store.setAdminPakHash('env-2');
    await store.setAdminPakHash('env-2'); // a restart with the same value
    expect(await store.findPrincipal('env-1')).toBeNull();
    expect(await store.findPrincipal('env-2')).toMatchObject({ role: 'admin', name: 'admin' });
    expect(await store.findPrincipal('ro')).toMatchObject({ role: 'readonly', name: 'viewer' });
    expect(await store.addAdminPakHashIfNone('other')).toBe(false);
  });
});
