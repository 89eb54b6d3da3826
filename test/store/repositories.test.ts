/** Repositories in the store, on every engine: declarations per generator, removal keeps stacks, prune delivers markers. */
import { describe, expect, it } from 'vitest';
import type { RepositorySpec, Store, StoreChange } from '../../src/store/store.js';
import { ENGINES, openEngineStore } from './store-fixture.js';

const spec = (over: Partial<RepositorySpec> = {}): RepositorySpec => ({
  name: 'platform',
  url: 'https://git.example.com/platform/stacks.git',
  branch: 'main',
  root: 'clusters',
  interval_seconds: 30,
  webhook_secret: 'hook-secret',
  auth: { usernameEnv: 'GIT_USER', passwordEnv: 'GIT_TOKEN' },
  origin: 'config',
  ...over,
});

/** A stack with one object in the repository's generator, and an agent that holds it by label. */
async function withStack(store: Store, generatorId: string) {
  await store.saveSyncTarget(generatorId, { repo: 'r', branch: 'main', root: '' });
  const r = await store.applyCommit({
    generatorId,
    commit: { sha: 'c1', author_name: 'a', author_email: 'a@x', subject: 's', committed_at: new Date().toISOString() },
    expectedCursor: null,
    upserts: [{ name: 'web', path: 'web', description: null, labels: ['prod'], annotations: {}, content: { yaml: 'a: 1\n', checksum: 'x' } }],
    deletes: [],
    errors: [],
  });
  const agent = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
  await store.addLabel('agent', agent.id, 'prod');
  return { stackId: r.created[0]!.stack_id, agent };
}

describe.each(ENGINES)('repositories (%s)', (engine) => {
  it('saving creates the generator of the same name; saving again by name changes the row, not the generator', async () => {
    const { store } = await openEngineStore(engine);
    const first = await store.saveRepository(spec());
    expect(first).toMatchObject({ ...spec(), generator_id: expect.any(String) });
    expect((await store.listGenerators()).map((g) => [g.id, g.name])).toEqual([[first.generator_id, 'platform']]);
    const again = await store.saveRepository(spec({ branch: null, auth: { sshKeyFile: '/keys/id' }, webhook_secret: null, origin: 'api' }));
    expect(again.generator_id).toBe(first.generator_id);
    expect(await store.listRepositories()).toEqual([
      expect.objectContaining({ name: 'platform', branch: null, auth: { sshKeyFile: '/keys/id' }, webhook_secret: null, origin: 'api' }),
    ]);
  });

  it('announces additions and removals to every listener', async () => {
    const { store } = await openEngineStore(engine);
    const seen: StoreChange[] = [];
    store.onChange((c) => seen.push(c));
    const repo = await store.saveRepository(spec());
    await store.removeRepository(repo.generator_id, { prune: false });
    expect(seen).toEqual([{ kind: 'repositories' }, { kind: 'repositories' }]);
  });

  it('removing keeps the stacks and what agents hold; the generator stays', async () => {
    const { store } = await openEngineStore(engine);
    const repo = await store.saveRepository(spec());
    const { stackId, agent } = await withStack(store, repo.generator_id);
    const before = await store.targetStateIds(agent.id, 'full');
    await store.removeRepository(repo.generator_id, { prune: false });
    expect(await store.listRepositories()).toEqual([]);
    expect((await store.getStack(stackId))!.deleted_at).toBeNull();
    expect(await store.targetStateIds(agent.id, 'full')).toEqual(before);
    expect((await store.listGenerators()).map((g) => g.id)).toEqual([repo.generator_id]);
  });

  it('prune soft-deletes the generator: its stacks are deleted and every agent gets their deletion markers', async () => {
    const { store } = await openEngineStore(engine);
    const repo = await store.saveRepository(spec());
    const { stackId, agent } = await withStack(store, repo.generator_id);
    await store.removeRepository(repo.generator_id, { prune: true });
    expect((await store.getStack(stackId))!.deleted_at).not.toBeNull();
    const [entry] = await store.targetStateIds(agent.id, 'full');
    const marker = await store.getObject(entry!.id);
    expect(marker).toMatchObject({ stack_id: stackId, is_deletion_marker: true, yaml_content: '' });
    expect(await store.listGenerators()).toEqual([]);
    // The name is free again: a new repository of that name is a new generator.
    expect((await store.saveRepository(spec())).generator_id).not.toBe(repo.generator_id);
  });

  it('removing an unknown generator is NotFoundError', async () => {
    const { store } = await openEngineStore(engine);
    await expect(store.removeRepository('00000000-0000-4000-8000-000000000000', { prune: true })).rejects.toThrow(/no repository or generator/);
  });
});
