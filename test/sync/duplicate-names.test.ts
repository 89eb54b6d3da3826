/** SPEC §2–§3 duplicate names: the newcomer is invalid, the incumbent is never changed; a freed name goes to the newcomer. */
import { afterEach, describe, expect, it } from 'vitest';
import { ENGINES } from '../store/store-fixture.js';
import { makeSyncFixture, manifest, stackFiles, wrapStore, type SyncFixture } from './sync-fixture.js';

let fx: SyncFixture;
afterEach(async () => fx?.cleanup());

describe.each(ENGINES)('duplicate names (%s)', (engine) => {
  it('a newcomer claiming an existing name is an error and the incumbent is untouched', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll(stackFiles('apps/web', { name: 'web', labels: ['prod'] }, 'incumbent')).commit('web');
    await fx.sync();
    const before = await fx.stack('web');

    const sha = fx.repo.writeAll(stackFiles('apps/web-copy', { name: 'web', labels: ['dev'] }, 'newcomer')).commit('copy');
    const report = await fx.sync();
    expect(report.commits[0]!.created).toEqual([]);
    expect(report.commits[0]!.updated).toEqual([]);
    const after = await fx.stack('web');
    expect(after).toMatchObject({ id: before.id, path: 'apps/web', labels: ['prod'], updated_at: before.updated_at });
    expect(await fx.objects('web')).toHaveLength(1);
    const errors = await fx.store.listSyncErrors();
    expect(errors).toMatchObject([{ stack_path: 'apps/web-copy', stack_name: 'web', commit_sha: sha, file: 'apps/web-copy/stack.yaml', line: 1 }]);
    expect(errors[0]!.message).toMatch(/already used by the stack in "apps\/web"/);

    // Changing the incumbent still works while the newcomer is refused.
    fx.repo.writeAll(stackFiles('apps/web', { name: 'web', labels: ['prod'] }, 'incumbent-2')).commit('update incumbent');
    await fx.sync();
    expect((await fx.objects('web'))[0]!.yaml_content).toContain('incumbent-2');
    expect(await fx.store.listSyncErrors()).toHaveLength(1);
  });

  it('once the incumbent is removed, the refused newcomer syncs without being touched itself', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll(stackFiles('a', { name: 'web' }, 'A')).commit('a');
    await fx.sync();
    fx.repo.writeAll(stackFiles('b', { name: 'web' }, 'B')).commit('b claims web');
    await fx.sync();
    expect(await fx.store.listSyncErrors()).toHaveLength(1);
    fx.repo.remove('a').commit('remove a');
    const report = await fx.sync();
    // The row follows the name: b takes it over (as a rename would) and gets its own content.
    expect(report.commits[0]!.deleted).toEqual([]);
    expect(await fx.stack('web')).toMatchObject({ path: 'b' });
    expect((await fx.objects('web'))[0]!.yaml_content).toContain('B');
    expect(await fx.store.listSyncErrors()).toEqual([]);
  });

  it('changing name: to one another stack holds is refused and the stack keeps its row', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('a', { name: 'alpha' }), ...stackFiles('b', { name: 'beta' }) }).commit('two');
    await fx.sync();
    const alpha = await fx.stack('alpha');
    fx.repo.write('a/stack.yaml', manifest({ name: 'beta' })).commit('a claims beta');
    const report = await fx.sync();
    expect(report.commits[0]!.deleted).toEqual([]);
    expect((await fx.stack('alpha')).id).toBe(alpha.id);
    expect((await fx.stack('beta')).path).toBe('b');
    expect((await fx.store.listSyncErrors()).map((e) => e.stack_path)).toEqual(['a']);
  });

  it('two new stacks with one name in a snapshot: the first path keeps it, the other is an error', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('x/one', { name: 'same' }), ...stackFiles('x/two', { name: 'same' }) }).commit('two claims');
    await fx.sync();
    expect((await fx.stack('same')).path).toBe('x/one');
    expect((await fx.store.listSyncErrors()).map((e) => e.stack_path)).toEqual(['x/two']);
  });

  it('a name held by a stack of another repository is an error, not a conflict that blocks the sync', async () => {
    fx = await makeSyncFixture({}, engine);
    const other = await fx.store.ensureGenerator('git:elsewhere', null);
    await fx.store.saveSyncTarget(other.id, { repo: 'elsewhere', branch: 'main', root: '' });
    await fx.store.applyCommit({
      generatorId: other.id,
      commit: { sha: 'c0', author_name: 'x', author_email: 'x@x', subject: 's', committed_at: new Date().toISOString() },
      expectedCursor: null,
      upserts: [{ name: 'shared', path: 'shared', description: null, labels: [], annotations: {}, content: { yaml: 'a: 1\n', checksum: 'x' } }],
      deletes: [],
      errors: [],
    });
    fx.repo.writeAll({ ...stackFiles('s', { name: 'shared' }), ...stackFiles('mine') }).commit('mine');
    const report = await fx.sync();
    expect(report.failure).toBeUndefined();
    expect((await fx.stack('mine')).generator_id).toBe(fx.syncer().generatorId());
    expect((await fx.store.listSyncErrors(fx.syncer().generatorId()))[0]!.message).toMatch(/is already used by repository .*; the stack that had it keeps it/);
  });

  it('a commit creating a stack checks only its new names against other repositories, not every stack with its details', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('a'), ...stackFiles('b') }).commit('two');
    await fx.sync();
    let listed = 0;
    const store = wrapStore(fx.store, {
      listStacks: async (opts) => {
        listed += 1;
        return fx.store.listStacks(opts);
      },
    });
    const syncer = fx.newSyncer({ store });
    fx.repo.writeAll(stackFiles('c')).commit('add c');
    const report = await syncer.syncOnce();
    expect(report.commits[0]!.created.map((c) => c.name)).toEqual(['c']);
    expect(listed).toBe(0);
  });
});
