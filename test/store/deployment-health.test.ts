/** deployment_health on every engine: upsert per (agent, object), reads, commit lookups, cascades on hard delete, announcements. */
import { describe, expect, it } from 'vitest';
import { NotFoundError, type CommitPlan, type Store, type StoreChange } from '../../src/store/store.js';
import { ENGINES, ISO_MS, nextMillisecond, openEngineStore, sqlite3 } from './store-fixture.js';

async function world(store: Store) {
  const g = await store.ensureGenerator('repo', null);
  await store.saveSyncTarget(g.id, { repo: '/r', branch: 'main', root: '' });
  let cursor: string | null = null;
  const apply = async (sha: string, parts: Partial<CommitPlan>) => {
    const r = await store.applyCommit({
      generatorId: g.id,
      commit: { sha, author_name: 'a', author_email: 'a@x', subject: `subject ${sha.slice(0, 4)}`, committed_at: new Date().toISOString() },
      expectedCursor: cursor,
      upserts: [],
      deletes: [],
      errors: [],
      ...parts,
    });
    cursor = sha;
    return r;
  };
  const upsert = (name: string, v: number, id?: string) => ({
    id, name, path: name, description: null, labels: ['prod'], annotations: {}, content: { yaml: `${name}: ${v}\n`, checksum: `${name}-${v}` },
  });
  const first = await apply('aaaa111111111111111111111111111111111111', { upserts: [upsert('web', 1), upsert('db', 1)] });
  const web = first.created.find((c) => c.name === 'web')!;
  const db = first.created.find((c) => c.name === 'db')!;
  const second = await apply('aaab222222222222222222222222222222222222', { upserts: [upsert('web', 2, web.stack_id)] });
  const agent = await store.createAgent({ name: 'edge', cluster_name: 'c', pak_hash: 'h1' });
  await store.addLabel('agent', agent.id, 'prod');
  const other = await store.createAgent({ name: 'other', cluster_name: 'c', pak_hash: 'h2' });
  await store.addTarget(other.id, db.stack_id);
  return { g, web, db, web2: second.created[0]!, agent, other };
}

describe.each(ENGINES)('deployment health (%s)', (engine) => {
  it('a report is upserted: one row per (agent, object), status, summary and checked_at replaced, created_at kept', async () => {
    const { store } = await openEngineStore(engine);
    const w = await world(store);
    const [row] = await store.reportHealth(w.agent.id, [
      { deployment_object_id: w.web.object_id, status: 'degraded', summary: '1/3 pods ready', checked_at: '2026-01-02T03:04:05.000Z' },
    ]);
    expect(row).toMatchObject({ agent_id: w.agent.id, deployment_object_id: w.web.object_id, status: 'degraded', summary: '1/3 pods ready', checked_at: '2026-01-02T03:04:05.000Z' });
    expect(row!.created_at).toMatch(ISO_MS);
    await nextMillisecond();
    const [again] = await store.reportHealth(w.agent.id, [{ deployment_object_id: w.web.object_id, status: 'healthy', summary: null, checked_at: null }]);
    expect(again).toMatchObject({ id: row!.id, status: 'healthy', summary: null, created_at: row!.created_at });
    expect(again!.updated_at > row!.updated_at).toBe(true);
    expect(again!.checked_at > '2026-01-02T03:04:05.000Z').toBe(true);
    expect(await store.listHealth({ deploymentObjectId: w.web.object_id })).toEqual([again]);
  });

  it('reads by object, stack and agent; newest object first', async () => {
    const { store } = await openEngineStore(engine);
    const w = await world(store);
    await store.reportHealth(w.agent.id, [
      { deployment_object_id: w.web.object_id, status: 'failing', summary: 'old', checked_at: null },
      { deployment_object_id: w.web2.object_id, status: 'healthy', summary: 'new', checked_at: null },
      { deployment_object_id: w.db.object_id, status: 'unknown', summary: null, checked_at: null },
    ]);
    await store.reportHealth(w.other.id, [{ deployment_object_id: w.db.object_id, status: 'healthy', summary: null, checked_at: null }]);
    expect((await store.listHealth({ stackId: w.web.stack_id })).map((h) => h.summary)).toEqual(['new', 'old']);
    expect((await store.listHealth({ deploymentObjectId: w.db.object_id })).map((h) => h.agent_id).sort()).toEqual([w.agent.id, w.other.id].sort());
    expect(await store.listHealth({ agentId: w.other.id })).toHaveLength(1);
    expect(await store.listHealth({ stackId: w.db.stack_id, agentId: w.agent.id })).toHaveLength(1);
  });

  it('all or nothing: an unknown object or agent is NotFoundError and writes no row', async () => {
    const { store } = await openEngineStore(engine);
    const w = await world(store);
    const unknown = '00000000-0000-4000-8000-000000000000';
    await expect(
      store.reportHealth(w.agent.id, [
        { deployment_object_id: w.web.object_id, status: 'healthy', summary: null, checked_at: null },
        { deployment_object_id: unknown, status: 'healthy', summary: null, checked_at: null },
      ]),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.reportHealth(unknown, [{ deployment_object_id: w.web.object_id, status: 'healthy', summary: null, checked_at: null }])).rejects.toBeInstanceOf(NotFoundError);
    expect(await store.listHealth({})).toEqual([]);
  });

  it('a report is announced as the agent’s change; a refused one announces nothing', async () => {
    const { store } = await openEngineStore(engine);
    const w = await world(store);
    const heard: StoreChange[] = [];
    store.onChange((c) => heard.push(c));
    await store.reportHealth(w.agent.id, [{ deployment_object_id: w.web.object_id, status: 'healthy', summary: null, checked_at: null }]);
    await expect(store.reportHealth(w.agent.id, [{ deployment_object_id: '00000000-0000-4000-8000-000000000000', status: 'healthy', summary: null, checked_at: null }])).rejects.toThrow();
    expect(heard).toEqual([{ kind: 'agent', agentId: w.agent.id }]);
  });

  it('rows go with their agent and with their object’s stack on hard delete (plain SQL, as any client)', async () => {
    const { store, raw } = await openEngineStore(engine);
    const w = await world(store);
    const report = (agentId: string, objectId: string) => store.reportHealth(agentId, [{ deployment_object_id: objectId, status: 'healthy', summary: null, checked_at: null }]);
    await report(w.agent.id, w.web.object_id);
    await report(w.agent.id, w.db.object_id);
    await report(w.other.id, w.db.object_id);
    await raw.exec('DELETE FROM agents WHERE id = ?', w.agent.id);
    expect(await raw.count('deployment_health')).toBe(1);
    await raw.exec('DELETE FROM stacks WHERE id = ?', w.db.stack_id);
    expect(await raw.count('deployment_health')).toBe(0);
  });

  it('status is one of healthy, degraded, failing, unknown for any client', async () => {
    const { store, raw } = await openEngineStore(engine);
    const w = await world(store);
    await expect(raw.exec("INSERT INTO deployment_health (agent_id, deployment_object_id, status) VALUES (?, ?, 'broken')", w.agent.id, w.web.object_id)).rejects.toThrow();
  });

  it('findCommitObjects takes a full sha or a prefix; listStackAgents and listStackObjectsFrom read the stack’s side', async () => {
    const { store } = await openEngineStore(engine);
    const w = await world(store);
    const full = await store.findCommitObjects('aaaa111111111111111111111111111111111111');
    expect(full.map((o) => [o.stack_name, o.object_id, o.is_deletion_marker])).toEqual([['db', w.db.object_id, false], ['web', w.web.object_id, false]]);
    expect(full[0]).toMatchObject({ commit_sha: 'aaaa111111111111111111111111111111111111', subject: 'subject aaaa', sequence_id: w.db.sequence_id });
    expect(await store.findCommitObjects('aaab222')).toEqual([expect.objectContaining({ stack_name: 'web', object_id: w.web2.object_id })]);
    expect(new Set((await store.findCommitObjects('aaa')).map((o) => o.commit_sha)).size).toBe(2);
    expect(await store.findCommitObjects('bbbb')).toEqual([]);
    expect((await store.listStackAgents(w.db.stack_id)).map((a) => a.name)).toEqual(['edge', 'other']);
    expect((await store.listStackAgents(w.web.stack_id)).map((a) => a.name)).toEqual(['edge']);
    expect((await store.listStackObjectsFrom(w.web.stack_id, w.web.sequence_id)).map((o) => o.id)).toEqual([w.web2.object_id, w.web.object_id]);
    expect((await store.listStackObjectsFrom(w.web.stack_id, w.web2.sequence_id)).map((o) => o.id)).toEqual([w.web2.object_id]);
  });
});

describe('deployment health in the sqlite3 shell (foreign keys off)', () => {
  it('a hard delete of the agent or of the stack removes the rows there too', async () => {
    const { store, target } = await openEngineStore('sqlite');
    const w = await world(store);
    await store.reportHealth(w.agent.id, [
      { deployment_object_id: w.web.object_id, status: 'healthy', summary: null, checked_at: null },
      { deployment_object_id: w.db.object_id, status: 'healthy', summary: null, checked_at: null },
    ]);
    await store.reportHealth(w.other.id, [{ deployment_object_id: w.db.object_id, status: 'healthy', summary: null, checked_at: null }]);
    await store.close();
    sqlite3(target, `DELETE FROM stacks WHERE id = '${w.web.stack_id}';`);
    expect(sqlite3(target, 'SELECT count(*) FROM deployment_health;').trim()).toBe('2');
    sqlite3(target, `DELETE FROM agents WHERE id = '${w.other.id}';`);
    expect(sqlite3(target, 'SELECT count(*) FROM deployment_health;').trim()).toBe('1');
  });
});
