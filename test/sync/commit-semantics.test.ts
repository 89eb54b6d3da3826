/** SPEC §3 after the first sync: every commit in order, objects only for new content, row updates, deletions, renames. */
import { afterEach, describe, expect, it } from 'vitest';
import type { CommitPlan, Store } from '../../src/store/store.js';
import { ENGINES } from '../store/store-fixture.js';
import { configMap, makeSyncFixture, manifest, stackFiles, wrapStore, type SyncFixture } from './sync-fixture.js';

let fx: SyncFixture;
afterEach(async () => fx?.cleanup());

const MD5_EMPTY = 'd41d8cd98f00b204e9800998ecf8427e';

/** Record every plan the syncer applies, passing them through to the real store. */
function recordPlans(store: Store): { store: Store; plans: CommitPlan[] } {
  const plans: CommitPlan[] = [];
  const wrapped = wrapStore(store, {
    applyCommit: async (plan) => {
      plans.push(plan);
      return store.applyCommit(plan);
    },
  });
  return { store: wrapped, plans };
}

describe.each(ENGINES)('commits after the first sync (%s)', (engine) => {
  it('applies a backlog oldest first, one transaction per commit, one object per changing commit per stack', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('web', {}, 'v0'), ...stackFiles('db', {}, 'v0') }).commit('initial');
    await fx.sync();
    const shas: string[] = [];
    for (let i = 1; i <= 12; i++) {
      fx.repo.writeAll(stackFiles('web', {}, `v${i}`));
      if (i % 3 === 0) fx.repo.writeAll(stackFiles('db', {}, `v${i}`));
      shas.push(fx.repo.commit(`change ${i}`));
    }
    const { store, plans } = recordPlans(fx.store);
    const report = await fx.newSyncer({ store }).syncOnce();
    expect(report.failure).toBeUndefined();
    expect(plans.map((p) => p.commit.sha)).toEqual(shas);
    expect(report.commits.map((c) => c.commit.sha)).toEqual(shas);

    const web = await fx.objects('web');
    expect(web).toHaveLength(13);
    const webSeq = web.map((o) => o.sequence_id).reverse();
    expect(webSeq).toEqual([...webSeq].sort((a, b) => a - b));
    expect(web.slice(0, 12).map((o) => o.commit!.sha)).toEqual([...shas].reverse());
    expect(web[0]!.yaml_content).toContain('v12');
    const db = await fx.objects('db');
    expect(db.map((o) => o.commit!.subject)).toEqual(['change 12', 'change 9', 'change 6', 'change 3', 'initial']);
    // Objects of one stack follow commit order across stacks too.
    const all = [...web, ...db].sort((a, b) => a.sequence_id - b.sequence_id).map((o) => o.commit!.subject);
    expect(all.indexOf('change 3')).toBeLessThan(all.indexOf('change 4'));
  });

  it('a commit whose content has the same checksum creates no object', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll(stackFiles('web')).commit('web');
    await fx.sync();
    fx.repo.write('web/README.md', 'docs only').commit('docs');
    fx.repo.write('web/config.yaml', configMap('web', { value: 'v2' })).commit('change');
    fx.repo.write('web/config.yaml', configMap('web', { value: 'v1' })).commit('revert');
    const report = await fx.sync();
    expect(report.commits).toHaveLength(3);
    expect(report.commits[0]!.updated).toEqual([]);
    expect((await fx.objects('web')).map((o) => o.commit!.subject)).toEqual(['revert', 'change', 'web']);
  });

  it('a commit touching only files that are not stack resources reads no stack', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('web'), ...stackFiles('db') }).commit('two');
    await fx.sync();
    fx.repo.write('web/README.md', 'docs').write('db/.hidden/x.yaml', configMap('hidden')).write('web/chart.tgz', 'bin').commit('docs');
    const report = await fx.sync();
    expect(report.commits).toHaveLength(1);
    expect(report.commits[0]!.stacks_read).toBe(0);
    expect(report.commits[0]!.updated).toEqual([]);
  });

  it('a label, annotation or description change updates the stack rows, not its objects', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll(stackFiles('web', { labels: ['prod'], annotations: { region: 'eu' } })).commit('web');
    await fx.sync();
    fx.repo.write('web/stack.yaml', manifest({ labels: ['prod', 'eu'], annotations: { region: 'us', tier: 'frontend' }, description: 'Web app' }));
    expect((await fx.sync()).commits).toHaveLength(0); // not committed yet: the working tree is ignored
    fx.repo.commit('relabel');
    const second = await fx.sync();
    expect(second.commits[0]!.updated).toMatchObject([{ name: 'web', fields: ['description', 'labels', 'annotations'] }]);
    expect(second.commits[0]!.updated[0]!.object).toBeUndefined();
    const stack = await fx.stack('web');
    expect([...stack.labels].sort()).toEqual(['eu', 'prod']);
    expect(stack.annotations).toEqual({ region: 'us', tier: 'frontend' });
    expect(stack.description).toBe('Web app');
    expect(await fx.objects('web')).toHaveLength(1);
  });

  it('a removed stack directory is soft-deleted and the trigger writes its deletion marker', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('web'), ...stackFiles('db') }).commit('two');
    await fx.sync();
    const id = (await fx.stack('web')).id;
    const sha = fx.repo.remove('web').commit('remove web');
    const report = await fx.sync();
    expect(report.commits[0]!.deleted).toMatchObject([{ name: 'web', path: 'web' }]);
    expect(await fx.names()).toEqual(['db']);
    const stack = (await fx.allStacks()).find((s) => s.id === id)!;
    expect(stack.deleted_at).not.toBeNull();
    const objects = await fx.store.listObjects(id);
    const marker = objects.find((o) => o.is_deletion_marker)!;
    expect(marker).toMatchObject({ yaml_content: '', yaml_checksum: MD5_EMPTY, sequence_id: report.commits[0]!.deleted[0]!.sequence_id });
    expect(marker.commit?.sha).toBe(sha);
    expect(objects.filter((o) => !o.is_deletion_marker).every((o) => o.deleted_at !== null)).toBe(true);
  });

  it('removing only stack.yaml deletes the stack; its files join the parent stack when there is one', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('team'), ...stackFiles('team/web') }).commit('nested');
    await fx.sync();
    expect((await fx.objects('team'))[0]!.yaml_content).not.toContain('team-web');
    fx.repo.remove('team/web/stack.yaml').commit('unstack web');
    await fx.sync();
    expect(await fx.names()).toEqual(['team']);
    expect((await fx.objects('team'))[0]!.yaml_content).toContain('team-web');
  });

  it('a stack that reappears with the same name is a new stack row', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll(stackFiles('web')).commit('add');
    await fx.sync();
    const first = (await fx.stack('web')).id;
    fx.repo.remove('web').commit('remove');
    fx.repo.writeAll(stackFiles('web')).commit('re-add');
    const report = await fx.sync();
    expect(report.commits.map((c) => [c.deleted.length, c.created.length])).toEqual([[1, 0], [0, 1]]);
    const second = (await fx.stack('web')).id;
    expect(second).not.toBe(first);
    expect((await fx.allStacks()).filter((s) => s.name === 'web')).toHaveLength(2);
  });

  it('a directory rename that keeps name: is the same stack at a new path', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll(stackFiles('apps/web', { name: 'web', labels: ['prod'] })).commit('add');
    await fx.sync();
    const before = await fx.stack('web');
    const objectsBefore = await fx.objects('web');
    fx.repo.rename('apps/web', 'services/frontend').commit('move');
    const report = await fx.sync();
    expect(report.commits[0]!.deleted).toEqual([]);
    expect(report.commits[0]!.created).toEqual([]);
    expect(report.commits[0]!.updated).toMatchObject([{ name: 'web', path: 'services/frontend', previous_path: 'apps/web' }]);
    const after = await fx.stack('web');
    expect(after.id).toBe(before.id);
    expect(after.path).toBe('services/frontend');
    // Same files at a new place: same content, so agents get nothing new to apply.
    expect((await fx.objects('web')).map((o) => o.id)).toEqual(objectsBefore.map((o) => o.id));
    expect((await fx.objects('web')).every((o) => !o.is_deletion_marker)).toBe(true);
  });

  it('a changed name: is a deletion plus a creation', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll(stackFiles('web', { name: 'web-old' })).commit('add');
    await fx.sync();
    const old = await fx.stack('web-old');
    fx.repo.write('web/stack.yaml', manifest({ name: 'web-new' })).commit('rename');
    const report = await fx.sync();
    expect(report.commits[0]!.deleted).toMatchObject([{ name: 'web-old' }]);
    expect(report.commits[0]!.created).toMatchObject([{ name: 'web-new', path: 'web' }]);
    expect(await fx.names()).toEqual(['web-new']);
    expect((await fx.store.listObjects(old.id))[0]!.is_deletion_marker).toBe(true);
  });

  it('two stacks swapping directories keep their identities', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('a', { name: 'alpha' }, 'A'), ...stackFiles('b', { name: 'beta' }, 'B') }).commit('add');
    await fx.sync();
    const alpha = (await fx.stack('alpha')).id;
    fx.repo.rename('a', 'tmp').rename('b', 'a').rename('tmp', 'b').commit('swap');
    const report = await fx.sync();
    expect(report.commits[0]!.deleted).toEqual([]);
    expect(await fx.stack('alpha')).toMatchObject({ id: alpha, path: 'b' });
    expect((await fx.stack('beta')).path).toBe('a');
    expect(report.commits[0]!.updated.map((u) => [u.name, u.previous_path, u.path, u.fields]).sort()).toEqual([
      ['alpha', 'a', 'b', ['path']],
      ['beta', 'b', 'a', ['path']],
    ]);
    // The syncer's view moved with them: the next change to alpha's files updates alpha, in its new place.
    fx.repo.writeAll(stackFiles('b', { name: 'alpha' }, 'A2')).commit('change alpha');
    expect((await fx.sync()).commits[0]!.updated).toMatchObject([{ stack_id: alpha, name: 'alpha', path: 'b', fields: [], object: {} }]);
  });

  it('a merge whose first parent lacks the cursor (git pull) applies only the merge: no stack is deleted and re-created', async () => {
    fx = await makeSyncFixture({}, engine);
    const base = fx.repo.writeAll(stackFiles('web')).commit('base');
    fx.repo.writeAll(stackFiles('cache')).commit('cache on main');
    await fx.sync();
    const cache = await fx.stack('cache');
    // Someone committed on an older main, pulled (merge: first parent = their commit) and pushed.
    fx.repo.checkout('local', true);
    fx.repo.resetHard(base);
    fx.repo.writeAll(stackFiles('web', {}, 'v2')).commit('local change');
    fx.repo.git('merge', '--no-ff', '-q', '-m', 'merge main into local', 'main');
    fx.repo.git('checkout', '-q', 'main');
    fx.repo.git('merge', '--ff-only', '-q', 'local');

    const report = await fx.sync();
    expect(report.commits.map((c) => c.commit.subject)).toEqual(['merge main into local']);
    expect(report.commits[0]!.deleted).toEqual([]);
    expect((await fx.stack('cache')).id).toBe(cache.id);
    expect((await fx.allStacks()).filter((s) => s.deleted_at !== null)).toEqual([]);
    expect((await fx.objects('web'))[0]!.yaml_content).toContain('v2');
  });

  it('nested stacks: a stack below another is its own stack and its files are not in the parent', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo
      .writeAll({
        ...stackFiles('platform', { name: 'platform' }, 'outer'),
        'platform/monitoring/stack.yaml': manifest({ name: 'monitoring' }),
        'platform/monitoring/prometheus.yaml': configMap('prometheus'),
        'platform/monitoring/rules/alerts.yaml': configMap('alerts'),
      })
      .commit('nested');
    await fx.sync();
    const outer = (await fx.objects('platform'))[0]!.yaml_content;
    const inner = (await fx.objects('monitoring'))[0]!.yaml_content;
    expect(outer).not.toContain('prometheus');
    expect(inner).toContain('prometheus');
    expect(inner).toContain('alerts');

    // Changing only the nested stack creates an object for it alone.
    fx.repo.write('platform/monitoring/prometheus.yaml', configMap('prometheus', { retention: '30d' })).commit('inner change');
    const report = await fx.sync();
    expect(report.commits[0]!.updated.map((u) => u.name)).toEqual(['monitoring']);
    expect(await fx.objects('platform')).toHaveLength(1);

    // A stack.yaml appearing in a subdirectory moves its files out of the parent stack.
    fx.repo.write('platform/extra/x.yaml', configMap('x')).commit('extra files');
    await fx.sync();
    expect((await fx.objects('platform'))[0]!.yaml_content).toContain('name: x');
    fx.repo.write('platform/extra/stack.yaml', manifest({ name: 'extra' })).commit('extra becomes a stack');
    const split = await fx.sync();
    expect(split.commits[0]!.created.map((c) => c.name)).toEqual(['extra']);
    expect(split.commits[0]!.updated.map((u) => u.name)).toEqual(['platform']);
    expect((await fx.objects('platform'))[0]!.yaml_content).not.toContain('name: x');
    expect((await fx.objects('extra'))[0]!.yaml_content).toContain('name: x');
  });
});
