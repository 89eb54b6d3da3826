/** The syncer at run time: remotes, the ref watcher, read cost per commit, failures that must not crash the daemon. */
import { renameSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openGitSource } from '../../src/git/index.js';
import type { GitSource } from '../../src/git/git-source.js';
import { makeBareRemote, makeRepo, type BareRemote, type TestRepo } from '../helpers/git-repo.js';
import { ENGINES } from '../store/store-fixture.js';
import { configMap, makeSyncFixture, stackFiles, wrapStore, type SyncFixture } from './sync-fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
async function fixture(...args: Parameters<typeof makeSyncFixture>): Promise<SyncFixture> {
  const f = await makeSyncFixture(...args);
  cleanups.push(() => f.cleanup());
  return f;
}

describe('remote repositories', () => {
  it('a file:// remote is cloned into the data dir and its new commits are fetched and synced', async () => {
    const remote: BareRemote = makeBareRemote();
    cleanups.push(() => remote.cleanup());
    const author: TestRepo = await makeRepo();
    cleanups.push(() => author.cleanup());
    author.writeAll(stackFiles('web', {}, 'v1')).commit('v1');
    author.push(remote.path, 'main');

    const fx = await fixture();
    const syncer = fx.newSyncer({ repo: remote.url, branch: 'main' });
    expect((await syncer.syncOnce()).failure).toBeUndefined();
    expect(await fx.names()).toEqual(['web']);
    expect((await fx.store.listGenerators())[0]!.name).toBe(`git:${remote.url}`);

    author.writeAll(stackFiles('web', {}, 'v2')).commit('v2');
    author.writeAll(stackFiles('api')).commit('api');
    author.push(remote.path, 'main');
    const report = await syncer.syncOnce();
    expect(report.commits.map((c) => c.commit.subject)).toEqual(['v2', 'api']);
    expect((await fx.objects('web'))[0]!.yaml_content).toContain('v2');
    expect(await fx.names()).toEqual(['api', 'web']);
  });

  it('a remote that is not there (yet) is a recorded failure, not an exception — stalled, as no retry can make it appear — and the next pass after it appears recovers', async () => {
    const fx = await fixture();
    const remote = makeBareRemote();
    cleanups.push(() => remote.cleanup());
    const later = `${remote.path}-later`;
    cleanups.push(() => rmSync(later, { recursive: true, force: true }));
    const syncer = fx.newSyncer({ repo: `file://${later}`, branch: 'main' });
    await syncer.start(); // must not throw
    expect(syncer.isReady()).toBe(false);
    const report = await syncer.syncOnce();
    expect(report.failure?.code).toBe('REPOSITORY_NOT_FOUND');
    expect((await fx.store.listSyncStates())[0]?.last_error ?? '').toMatch(/^REPOSITORY_NOT_FOUND: cannot open repository file:\/\/.*does not appear to be a git repository/);

    // The remote comes back: the next pass clones it and syncs.
    const author = await makeRepo();
    cleanups.push(() => author.cleanup());
    author.writeAll(stackFiles('web')).commit('web');
    renameSync(remote.path, later);
    author.push(later, 'main');
    const ok = await syncer.syncOnce();
    expect(ok.failure).toBeUndefined();
    expect(syncer.isReady()).toBe(true);
    expect(await fx.names()).toEqual(['web']);
    await syncer.stop();
  });
});

describe.each(ENGINES)('failures that leave the last good state in place (%s)', (engine) => {
  it('a missing branch is reported with a code and recorded, and the syncer recovers when it appears', async () => {
    const fx = await fixture({ branch: 'release' }, engine);
    fx.repo.writeAll(stackFiles('web')).commit('on main');
    const failed = await fx.sync({ allowFailure: true });
    expect(failed.failure).toMatchObject({ code: 'BRANCH_MISSING' });
    expect(failed.failure!.message).toMatch(/release/);
    const state = (await fx.store.listSyncStates())[0];
    expect(state?.last_error ?? 'no state row yet').toMatch(/release|no state row/);
    expect(fx.syncer().isReady()).toBe(false);

    fx.repo.branch('release');
    const ok = await fx.sync();
    expect(ok.commits).toHaveLength(1);
    expect(fx.syncer().isReady()).toBe(true);
    expect((await fx.store.listSyncStates())[0]!.last_error).toBeNull();
  });

  it('a --root that names no directory changes nothing', async () => {
    const fx = await fixture({}, engine);
    fx.repo.writeAll(stackFiles('stacks/web')).commit('web');
    await fx.sync();
    const report = await fx.newSyncer({ root: 'stacks-typo' }).syncOnce();
    expect(report.failure?.code).toBe('ROOT_MISSING');
    expect(await fx.names()).toEqual(['stacks/web']);
  });

  it('passes never overlap: concurrent requests share one follow-up pass', async () => {
    const fx = await fixture({}, engine);
    fx.repo.writeAll(stackFiles('web')).commit('web');
    const syncer = fx.syncer();
    const [a, b, c] = await Promise.all([syncer.syncOnce(), syncer.syncOnce(), syncer.syncOnce()]);
    expect(a.commits).toHaveLength(1);
    expect(b).toBe(c); // the two requests made during the first pass coalesced
    expect(b.commits).toHaveLength(0);
    expect(await fx.objects('web')).toHaveLength(1);
  });
});

describe('watching', () => {
  it('start() syncs, then a real commit is picked up by the ref watcher without calling syncOnce', async () => {
    const fx = await fixture();
    fx.repo.writeAll(stackFiles('web')).commit('web');
    // A long interval: only the watcher can deliver the commit within the test.
    const syncer = fx.newSyncer({ watch: true, intervalSeconds: 3600 });
    await syncer.start();
    expect(syncer.isReady()).toBe(true);
    expect(await fx.names()).toEqual(['web']);

    fx.repo.writeAll(stackFiles('api')).commit('api');
    for (;;) {
      const version = fx.feed.version;
      if ((await fx.names()).includes('api')) break;
      // Wait on the change feed the syncer notifies (the bound only keeps a broken watcher from hanging the suite).
      if (!(await fx.feed.waitFor(version, 20_000))) throw new Error('the watcher did not sync the commit');
    }
    expect(await fx.names()).toEqual(['api', 'web']);
    await syncer.stop();
  });
});

describe('cost of a commit', () => {
  it('stacks whose subtree did not change are not read', async () => {
    const fx = await fixture();
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) Object.assign(files, stackFiles(`stacks/s${i}`, { labels: [`l${i}`] }, `v${i}`));
    fx.repo.writeAll(files).commit('twenty stacks');

    const real = await openGitSource({ repo: fx.repo.path, dataDir: fx.dataDir });
    cleanups.push(() => real.close());
    const read: string[] = [];
    const recording = new Proxy(real, {
      get(target, key) {
        if (key === 'readBlobs') {
          return async (oids: string[], max: number) => {
            read.push(...oids);
            return target.readBlobs(oids, max);
          };
        }
        const value = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as GitSource;
    const syncer = fx.newSyncer({ git: recording });
    await syncer.syncOnce();
    expect(read.length).toBe(40); // the snapshot reads every manifest and resource once

    read.length = 0;
    fx.repo.write('stacks/s7/config.yaml', configMap('stacks-s7', { value: 'changed' })).commit('touch s7');
    const report = await syncer.syncOnce();
    expect(report.commits[0]!.stacks_read).toBe(1);
    const s7 = new Set(
      fx.repo
        .git('ls-tree', '-r', 'HEAD', 'stacks/s7')
        .split('\n')
        .map((l) => l.split(/\s+/)[2]),
    );
    expect(read.length).toBeGreaterThan(0);
    expect(read.every((oid) => s7.has(oid))).toBe(true);
  });
});

describe.each(ENGINES)('change notifications (announced by the store as it applies each commit) (%s)', (engine) => {
  it('a commit that only changes content names its stacks; new stacks and label changes concern everyone', async () => {
    const fx = await fixture({}, engine);
    const scopes: unknown[] = [];
    // 'sync' (cursor and bookkeeping only) concerns status views, not agents: left out here.
    fx.store.onChange((change) => {
      if (change.kind === 'objects') scopes.push({ stacks: change.stacks });
      else if (change.kind === 'stacks') scopes.push('everyone');
      else if (change.kind !== 'sync') scopes.push(change);
    });
    fx.repo.writeAll({ ...stackFiles('web', { labels: ['prod'] }), ...stackFiles('db', { labels: ['prod'] }) }).commit('two stacks');
    await fx.sync();
    expect(scopes).toEqual(['everyone']); // a snapshot creates stacks

    fx.repo.write('web/config.yaml', configMap('web', { value: 'v2' })).commit('web content');
    await fx.sync();
    expect(scopes.at(-1)).toEqual({ stacks: [(await fx.stack('web')).id] });

    const dbId = (await fx.stack('db')).id;
    fx.repo.remove('db').commit('db gone');
    await fx.sync();
    expect(scopes.at(-1)).toEqual({ stacks: [dbId] }); // its marker reaches the agents holding it

    fx.repo.writeAll(stackFiles('web', { labels: ['dev'] })).commit('web relabelled');
    await fx.sync();
    expect(scopes.at(-1)).toBe('everyone');

    fx.repo.writeAll(stackFiles('cache')).commit('a new stack');
    await fx.sync();
    expect(scopes.at(-1)).toBe('everyone');
  });
});

describe.each(ENGINES)('more than one writer, stopping, polling (%s)', (engine) => {
  it('another writer moving the cursor mid-pass makes the pass reload, and nothing is applied twice', async () => {
    const fx = await fixture({}, engine);
    fx.repo.writeAll(stackFiles('web', {}, 'v1')).commit('v1');
    await fx.sync();
    fx.repo.writeAll(stackFiles('web', {}, 'v2')).commit('v2');
    fx.repo.writeAll(stackFiles('api')).commit('api');
    let interfered = false;
    const racing = wrapStore(fx.store, {
      applyCommit: async (plan) => {
        if (!interfered) {
          interfered = true;
          // A `brokkr-sync sync` run on the same database gets there first.
          expect((await fx.newSyncer().syncOnce()).commits).toHaveLength(2);
        }
        return fx.store.applyCommit(plan);
      },
    });
    const report = await fx.newSyncer({ store: racing }).syncOnce();
    expect(report.failure).toBeUndefined();
    expect(report.commits).toHaveLength(0); // everything was already applied by the other writer
    expect((await fx.objects('web')).map((o) => o.commit!.subject)).toEqual(['v2', 'v1']);
    expect(await fx.objects('api')).toHaveLength(1);
  });

  it('stop() during a backlog lets the commit in flight finish and leaves the rest for the next run', async () => {
    const fx = await fixture({}, engine);
    fx.repo.writeAll(stackFiles('web', {}, 'v0')).commit('v0');
    await fx.sync();
    for (let i = 1; i <= 30; i++) fx.repo.writeAll(stackFiles('web', {}, `v${i}`)).commit(`v${i}`);
    const syncer = fx.newSyncer();
    const since = fx.feed.version;
    const pass = syncer.syncOnce();
    await fx.feed.waitFor(since, 20_000); // the first commit of the backlog is in
    await syncer.stop();
    const report = await pass;
    expect(report.failure).toBeUndefined();
    expect(report.commits.length).toBeGreaterThanOrEqual(1);
    expect(report.commits.length).toBeLessThan(30);
    const cursor = (await fx.store.listSyncStates())[0]!.cursor_commit;
    expect(cursor).toBe(report.commits.at(-1)!.commit.sha);
    expect(await fx.objects('web')).toHaveLength(1 + report.commits.length);

    const rest = await fx.newSyncer().syncOnce();
    expect(report.commits.length + rest.commits.length).toBe(30);
    expect(await fx.objects('web')).toHaveLength(31);
  });

  it('a remote is fetched on the interval: pushed commits arrive without syncOnce', async () => {
    const remote = makeBareRemote();
    cleanups.push(() => remote.cleanup());
    const author = await makeRepo();
    cleanups.push(() => author.cleanup());
    author.writeAll(stackFiles('web')).commit('web');
    author.push(remote.path, 'main');
    const fx = await fixture({}, engine);
    const syncer = fx.newSyncer({ repo: remote.url, branch: 'main', watch: true, intervalSeconds: 0.2 });
    await syncer.start();
    expect(await fx.names()).toEqual(['web']);
    author.writeAll(stackFiles('api')).commit('api');
    author.push(remote.path, 'main');
    for (;;) {
      const version = fx.feed.version;
      if ((await fx.names()).includes('api')) break;
      if (!(await fx.feed.waitFor(version, 20_000))) throw new Error('the interval fetch did not sync the commit');
    }
    await syncer.stop();
  });
});
