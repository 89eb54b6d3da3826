/** SPEC §3 first sync: the tip becomes a snapshot; only committed content; provenance; one generator. */
import { afterEach, describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { ENGINES } from '../store/store-fixture.js';
import { configMap, makeSyncFixture, manifest, stackFiles, type SyncFixture } from './sync-fixture.js';

let fx: SyncFixture;
afterEach(async () => fx?.cleanup());

describe.each(ENGINES)('first sync (%s)', (engine) => {
  it('turns the tip into a snapshot: one object per stack, not a replay of history', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll(stackFiles('apps/web', {}, 'v1')).commit('web v1');
    fx.repo.writeAll(stackFiles('apps/web', {}, 'v2')).commit('web v2');
    fx.repo.writeAll(stackFiles('apps/db', { name: 'database' })).commit('db');
    const tip = fx.repo.writeAll(stackFiles('apps/web', {}, 'v3')).commit('web v3');

    const report = await fx.sync();
    expect(report.commits).toHaveLength(1);
    expect(report.commits[0]!.mode).toBe('snapshot');
    expect(report.cursor).toBe(tip);
    expect(await fx.names()).toEqual(['apps/web', 'database']);
    const objects = await fx.objects('apps/web');
    expect(objects).toHaveLength(1);
    expect(objects[0]!.yaml_content).toContain('value: "v3"');
  });

  it('content is the resource documents in path order with a SHA-256 checksum', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo
      .writeAll({
        'web/stack.yaml': manifest({ labels: ['prod'] }),
        'web/b.yaml': configMap('b'),
        'web/a.yml': `${configMap('a1')}---\n${configMap('a2')}`,
        'web/README.md': 'not a resource',
        'web/sub/c.yaml': configMap('c'),
      })
      .commit('web');
    await fx.sync();
    const [object] = await fx.objects('web');
    const docs = (yaml.loadAll(object!.yaml_content) as unknown[]).filter((d) => d !== null && d !== undefined);
    expect(docs.map((d) => (d as { metadata: { name: string } }).metadata.name)).toEqual(['a1', 'a2', 'b', 'c']);
    const { createHash } = await import('node:crypto');
    expect(object!.yaml_checksum).toBe(createHash('sha256').update(object!.yaml_content).digest('hex'));
  });

  it('ignores uncommitted edits of the working tree', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll(stackFiles('web', {}, 'committed')).commit('web');
    fx.repo.write('web/config.yaml', configMap('web', { value: 'uncommitted' }));
    fx.repo.writeAll(stackFiles('draft'));
    fx.repo.git('add', 'draft'); // staged but not committed either
    await fx.sync();
    expect(await fx.names()).toEqual(['web']);
    const [object] = await fx.objects('web');
    expect(object!.yaml_content).toContain('committed');
    expect(object!.yaml_content).not.toContain('uncommitted');
  });

  it('records the commit of every object: sha, author, email, subject, time', async () => {
    fx = await makeSyncFixture({}, engine);
    const sha = fx.repo
      .writeAll(stackFiles('web'))
      .commit('Add the web stack', { author: { name: 'Grace Hopper', email: 'grace@example.com' }, date: '2030-05-06T07:08:09Z' });
    await fx.sync();
    const [object] = await fx.objects('web');
    expect(object!.commit).toEqual({
      sha,
      author_name: 'Grace Hopper',
      author_email: 'grace@example.com',
      subject: 'Add the web stack',
      committed_at: '2030-05-06T07:08:09.000Z',
    });
  });

  it('registers one generator per repository and every stack and object carries its id', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('a'), ...stackFiles('b') }).commit('two stacks');
    await fx.sync();
    await fx.newSyncer().syncOnce(); // a second syncer of the same repository reuses the row
    const generators = await fx.store.listGenerators();
    expect(generators).toHaveLength(1);
    expect(generators[0]!.name).toMatch(/^git:/);
    const id = fx.syncer().generatorId();
    expect(generators[0]!.id).toBe(id);
    for (const stack of await fx.allStacks()) {
      expect(stack.generator_id).toBe(id);
      for (const object of await fx.store.listObjects(stack.id)) expect(object.generator_id).toBe(id);
    }
  });

  it('a stack.yaml at the root makes the root a stack; a stack without resources has empty content', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll({ 'stack.yaml': manifest({ name: 'everything' }), 'base.yaml': configMap('base'), 'empty/stack.yaml': '' }).commit('root');
    await fx.sync();
    expect(await fx.names()).toEqual(['empty', 'everything']);
    expect((await fx.stack('everything')).path).toBe('');
    expect((await fx.objects('empty'))[0]!.yaml_content).toBe('');
  });

  it('reports progress of a snapshot through onProgress, ending at the total', async () => {
    const seen: { phase: string; done: number; total: number }[] = [];
    fx = await makeSyncFixture({ onProgress: (p) => seen.push(p) }, engine);
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) Object.assign(files, stackFiles(`s/${i}`));
    fx.repo.writeAll(files).commit('many');
    await fx.sync();
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((p) => p.phase === 'snapshot' && p.total === 300)).toBe(true);
    expect(seen.at(-1)!.done).toBe(300);
  });

  it('syncs only the stacks below --root, named relative to it', async () => {
    fx = await makeSyncFixture({ root: 'clusters/prod' }, engine);
    fx.repo.writeAll({ ...stackFiles('clusters/prod/web'), ...stackFiles('clusters/dev/web'), ...stackFiles('other') }).commit('layout');
    await fx.sync();
    expect(await fx.names()).toEqual(['web']);
    expect((await fx.stack('web')).path).toBe('web');
  });
});
