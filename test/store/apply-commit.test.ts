/** applyCommit on every engine: one commit's stacks, objects, provenance, errors and cursor in one transaction. */
import { describe, expect, it } from 'vitest';
import type { CommitInfo } from '../../src/store/records.js';
import { ConflictError, CursorMovedError, LeaseLostError, type CommitPlan, type Store, type StoreEngine, type StackUpsert } from '../../src/store/store.js';
import { ENGINES, MD5_EMPTY, openEngineStore } from './store-fixture.js';

function commit(sha: string): CommitInfo {
  return { sha, author_name: 'Ada', author_email: 'ada@example.com', subject: `commit ${sha}`, committed_at: '2030-01-01T00:00:00.000Z' };
}

function upsert(name: string, yaml?: string, extra: Partial<StackUpsert> = {}): StackUpsert {
  return { name, path: `stacks/${name}`, description: null, labels: [], annotations: {}, ...(yaml ? { content: { yaml, checksum: `sum-${yaml}` } } : {}), ...extra };
}

async function syncedStore(engine: StoreEngine) {
  const { store, raw } = await openEngineStore(engine);
  const g = await store.ensureGenerator('repo', 'test repo');
  await store.saveSyncTarget(g.id, { repo: '/repo', branch: 'main', root: '' });
  let cursor: string | null = null;
  const apply = async (sha: string, parts: Partial<CommitPlan>) => {
    const result = await store.applyCommit({ generatorId: g.id, commit: commit(sha), expectedCursor: cursor, upserts: [], deletes: [], errors: [], ...parts });
    cursor = sha;
    return result;
  };
  return { store, raw, generatorId: g.id, apply };
}

async function stackByName(store: Store, name: string) {
  return (await store.listStacks({ includeDeleted: true })).filter((s) => s.name === name);
}

describe.each(ENGINES)('applyCommit (%s)', (engine) => {
  it('creates stacks with their first objects and records the commit of each object', async () => {
    const { store, apply } = await syncedStore(engine);
    const result = await apply('c1', { upserts: [upsert('web', 'a: 1\n', { labels: ['prod'], annotations: { tier: 'fe' }, description: 'Web' }), upsert('db', 'b: 1\n')] });
    expect(result.created.map((c) => c.name)).toEqual(['web', 'db']);
    expect(result.created[1]!.sequence_id).toBeGreaterThan(result.created[0]!.sequence_id);
    const [web] = await stackByName(store, 'web');
    expect(web).toMatchObject({ path: 'stacks/web', description: 'Web', labels: ['prod'], annotations: { tier: 'fe' } });
    expect(web!.latest_object).toMatchObject({ id: result.created[0]!.object_id, is_deletion_marker: false, yaml_checksum: 'sum-a: 1\n' });
    const object = await store.getObject(result.created[0]!.object_id);
    expect(object).toMatchObject({ yaml_content: 'a: 1\n', is_deletion_marker: false, commit: commit('c1') });
  });

  it('reports per upsert the very entry it answers, its stack id, whether the row is new and its new object', async () => {
    const { apply } = await syncedStore(engine);
    const web = upsert('web', 'a: 1\n');
    const first = await apply('c1', { upserts: [web, upsert('bare')] });
    const webId = first.written.find((w) => w.upsert === web)!.stack_id;
    const [object] = first.created;
    expect(first.written).toEqual([
      { upsert: web, stack_id: object!.stack_id, new_stack: true, object: { object_id: object!.object_id, sequence_id: object!.sequence_id } },
      { upsert: expect.objectContaining({ name: 'bare' }), stack_id: first.updated[0]!.stack_id, new_stack: true, object: null },
    ]);
    // A stack renamed into another's directory while a new one takes its own: each entry says which is which.
    const moved = upsert('web', 'a: 2\n', { id: webId, path: 'stacks/moved' });
    const fresh = upsert('api', 'b: 1\n', { path: 'stacks/web' });
    const second = await apply('c2', { upserts: [fresh, moved] });
    const byUpsert = new Map(second.written.map((w) => [w.upsert, w]));
    expect(byUpsert.get(moved)).toMatchObject({ stack_id: webId, new_stack: false, object: { object_id: second.created.find((c) => c.name === 'web')!.object_id } });
    expect(byUpsert.get(fresh)).toMatchObject({ stack_id: second.created.find((c) => c.name === 'api')!.stack_id, new_stack: true });
    expect(byUpsert.get(fresh)!.stack_id).not.toBe(webId);
  });

  it('advances the cursor, sets last_sync_at and clears last_error', async () => {
    const { store, generatorId, apply } = await syncedStore(engine);
    await store.setSyncFailure(generatorId, 'git unreachable');
    await apply('c1', {});
    const state = await store.getSyncState(generatorId);
    expect(state).toMatchObject({ cursor_commit: 'c1', cursor_committed_at: '2030-01-01T00:00:00.000Z', last_error: null });
    expect(state!.last_sync_at).not.toBeNull();
  });

  it('changed labels, annotations or description update the stack rows, not its objects', async () => {
    const { store, apply } = await syncedStore(engine);
    const first = await apply('c1', { upserts: [upsert('web', 'a: 1\n', { labels: ['prod'] })] });
    const id = first.created[0]!.stack_id;
    const changed = upsert('web', undefined, { id, labels: ['staging'], annotations: { region: 'eu' }, description: 'new' });
    const second = await apply('c2', { upserts: [changed] });
    expect(second).toEqual({ created: [], updated: [{ stack_id: id, name: 'web' }], deleted: [], written: [{ upsert: changed, stack_id: id, new_stack: false, object: null }] });
    const stack = await store.getStack(id);
    expect(stack).toMatchObject({ labels: ['staging'], annotations: { region: 'eu' }, description: 'new' });
    expect(await store.listObjects(id)).toHaveLength(1);
  });

  it('many tags changed at once: added, removed, kept (its row too) and re-valued, in one commit', async () => {
    const { store, apply } = await syncedStore(engine);
    const first = await apply('c1', {
      upserts: [upsert('web', 'a: 1\n', { labels: ['keep', 'drop-1', 'drop-2'], annotations: { same: '1', changed: 'old', gone: 'x' } })],
    });
    const id = first.created[0]!.stack_id;
    const keptRow = (await store.listLabels('stack', id)).find((l) => l.label === 'keep')!.id;
    const changed = upsert('web', undefined, { id, labels: ['keep', 'new-1', 'new-2'], annotations: { same: '1', changed: 'new', constructor: 'c', added: "it's" } });
    const second = await apply('c2', { upserts: [changed] });
    expect(second.updated).toEqual([{ stack_id: id, name: 'web' }]);
    expect((await store.listLabels('stack', id)).map((l) => l.label)).toEqual(['keep', 'new-1', 'new-2']);
    expect((await store.listLabels('stack', id)).find((l) => l.label === 'keep')!.id).toBe(keptRow);
    expect(Object.fromEntries((await store.listAnnotations('stack', id)).map((a) => [a.key, a.value]))).toEqual({ same: '1', changed: 'new', constructor: 'c', added: "it's" });
    // The same tags again: nothing to write, nothing reported.
    expect((await apply('c3', { upserts: [changed] })).updated).toEqual([]);
  });

  it('an upsert identical to the stored stack changes nothing', async () => {
    const { store, apply } = await syncedStore(engine);
    const first = await apply('c1', { upserts: [upsert('web', 'a: 1\n', { labels: ['prod'] })] });
    const id = first.created[0]!.stack_id;
    const before = await store.getStack(id);
    const same = upsert('web', undefined, { id, labels: ['prod'] });
    const second = await apply('c2', { upserts: [same] });
    expect(second).toEqual({ created: [], updated: [], deleted: [], written: [{ upsert: same, stack_id: id, new_stack: false, object: null }] });
    expect((await store.getStack(id))!.updated_at).toBe(before!.updated_at);
  });

  it('a deleted stack gets a deletion marker that records the deleting commit', async () => {
    const { store, apply } = await syncedStore(engine);
    const id = (await apply('c1', { upserts: [upsert('web', 'a: 1\n')] })).created[0]!.stack_id;
    const result = await apply('c2', { deletes: [id] });
    expect(result.deleted).toHaveLength(1);
    const marker = await store.getObject(result.deleted[0]!.marker_id);
    expect(marker).toMatchObject({ stack_id: id, is_deletion_marker: true, yaml_content: '', yaml_checksum: MD5_EMPTY, commit: commit('c2') });
    expect((await store.getStack(id))!.deleted_at).not.toBeNull();
    expect(await store.listSyncedStacks((await store.listGenerators())[0]!.id)).toEqual([]);
  });

  it('a stack deleted and recreated with the same name in one commit becomes a new stack row', async () => {
    const { store, apply } = await syncedStore(engine);
    const id = (await apply('c1', { upserts: [upsert('web', 'a: 1\n')] })).created[0]!.stack_id;
    const result = await apply('c2', { deletes: [id], upserts: [upsert('web', 'a: 2\n')] });
    expect(result.deleted[0]!.stack_id).toBe(id);
    expect(result.created[0]!.stack_id).not.toBe(id);
    expect(result.created[0]!.sequence_id).toBeGreaterThan(result.deleted[0]!.sequence_id);
    const rows = await stackByName(store, 'web');
    expect(rows.map((r) => r.deleted_at === null).sort()).toEqual([false, true]);
  });

  it('refuses a plan computed from another cursor (CursorMovedError) and writes nothing', async () => {
    const { store, generatorId, apply, raw } = await syncedStore(engine);
    await apply('c1', { upserts: [upsert('web', 'a: 1\n')] });
    const stale: CommitPlan = { generatorId, commit: commit('c2'), expectedCursor: null, upserts: [upsert('db', 'x: 1\n')], deletes: [], errors: [] };
    await expect(store.applyCommit(stale)).rejects.toBeInstanceOf(CursorMovedError);
    expect((await store.getSyncState(generatorId))!.cursor_commit).toBe('c1');
    expect(await raw.count('stacks')).toBe(1);
  });

  it('is atomic: a failure mid-transaction leaves the cursor and every row untouched', async () => {
    const { store, generatorId, apply, raw } = await syncedStore(engine);
    const id = (await apply('c1', { upserts: [upsert('web', 'a: 1\n')] })).created[0]!.stack_id;
    // One after another: on PostgreSQL raw is one client, which runs one query at a time (pg deprecates queueing them).
    const counts = async () => {
      const n: number[] = [];
      for (const t of ['stacks', 'deployment_objects', 'object_provenance', 'stack_labels', 'sync_errors']) n.push(await raw.count(t));
      return n;
    };
    const before = await counts();
    const broken: CommitPlan = {
      generatorId,
      commit: commit('c2'),
      expectedCursor: 'c1',
      deletes: [id],
      upserts: [upsert('api', 'b: 1\n', { labels: ['x'] }), upsert('dup', 'c: 1\n'), upsert('dup', 'd: 1\n')],
      errors: [{ stack_path: 'broken', errors: [{ stack_path: 'broken', stack_name: null, commit_sha: 'c2', file: 'broken/stack.yaml', line: 1, message: 'bad' }] }],
    };
    await expect(store.applyCommit(broken)).rejects.toBeInstanceOf(ConflictError);
    expect(await counts()).toEqual(before);
    expect((await store.getSyncState(generatorId))!.cursor_commit).toBe('c1');
    expect((await store.getStack(id))!.deleted_at).toBeNull();
  });

  it('replaces the recorded errors of a stack path, and an empty list clears them', async () => {
    const { store, generatorId, apply } = await syncedStore(engine);
    const err = (message: string) => ({ stack_path: 'teams/a', stack_name: 'a', commit_sha: '', file: 'teams/a/x.yaml', line: 3, message });
    await apply('c1', { errors: [{ stack_path: 'teams/a', errors: [err('one'), err('two')] }, { stack_path: 'teams/b', errors: [{ ...err('b'), stack_path: 'teams/b' }] }] });
    expect((await store.listSyncErrors(generatorId)).map((e) => e.message)).toEqual(['one', 'two', 'b']);
    expect((await store.listSyncErrors())[0]).toMatchObject({ generator_id: generatorId, commit_sha: 'c1', file: 'teams/a/x.yaml', line: 3 });
    await apply('c2', { errors: [{ stack_path: 'teams/a', errors: [err('three')] }] });
    expect((await store.listSyncErrors(generatorId)).map((e) => e.message)).toEqual(['three', 'b']);
    await apply('c3', { errors: [{ stack_path: 'teams/a', errors: [] }, { stack_path: 'teams/b', errors: [] }] });
    expect(await store.listSyncErrors(generatorId)).toEqual([]);
  });

  it('listSyncedStacks reports the latest content checksum, ignoring deletion markers', async () => {
    const { store, generatorId, apply } = await syncedStore(engine);
    const id = (await apply('c1', { upserts: [upsert('web', 'a: 1\n', { labels: ['l'], annotations: { k: 'v' } })] })).created[0]!.stack_id;
    await apply('c2', { upserts: [upsert('web', 'a: 2\n', { id, labels: ['l'], annotations: { k: 'v' } })] });
    await apply('c3', { upserts: [upsert('fresh')] });
    const synced = await store.listSyncedStacks(generatorId);
    expect(synced.find((s) => s.name === 'web')).toEqual({
      id,
      name: 'web',
      path: 'stacks/web',
      description: null,
      labels: ['l'],
      annotations: { k: 'v' },
      latest_checksum: 'sum-a: 2\n',
    });
    expect(synced.find((s) => s.name === 'fresh')!.latest_checksum).toBeNull();
  });

  it('refuses a plan whose lease holder has no live lease (LeaseLostError) and writes nothing', async () => {
    const { store, generatorId, apply, raw } = await syncedStore(engine);
    await apply('c1', {});
    const plan = (sha: string, expectedCursor: string, leaseHolder: string): CommitPlan => ({
      generatorId, commit: commit(sha), expectedCursor, leaseHolder, upserts: [upsert(`s-${sha}`, 'x: 1\n')], deletes: [], errors: [],
    });
    await expect(store.applyCommit(plan('c2', 'c1', 'replica-a'))).rejects.toBeInstanceOf(LeaseLostError);
    expect(await store.acquireSyncLease(generatorId, 'replica-b', 60_000)).toBe(true);
    await expect(store.applyCommit(plan('c2', 'c1', 'replica-a'))).rejects.toBeInstanceOf(LeaseLostError);
    expect(await raw.count('stacks')).toBe(0);
    expect((await store.getSyncState(generatorId))!.cursor_commit).toBe('c1');
    await expect(store.applyCommit(plan('c2', 'c1', 'replica-b'))).resolves.toMatchObject({ created: [{ name: 's-c2' }] });
  });
});
