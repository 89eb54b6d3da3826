/**
 * applyCommit with deferred contents (CommitPlan.readContents) on every engine: a commit larger than
 * one batch is read in batches and still lands in ONE transaction — nothing of it visible before
 * the last batch is written, nothing left behind when a later batch fails.
 */
import { describe, expect, it } from 'vitest';
import { CONTENT_BATCH_SIZE } from '../../src/store/content-batches.js';
import type { CommitInfo } from '../../src/store/records.js';
import { CursorMovedError, type CommitPlan, type StackUpsert, type StoreEngine } from '../../src/store/store.js';
import { ENGINES, openEngineStore } from './store-fixture.js';

const commit = (sha: string): CommitInfo => ({ sha, author_name: 'Ada', author_email: 'ada@example.com', subject: sha, committed_at: '2030-01-01T00:00:00.000Z' });
const yamlOf = (name: string) => `kind: ConfigMap\nmetadata:\n  name: ${name}\n`;

/** n new stacks whose YAML is deferred (content.yaml null, the checksum planned). */
function deferredUpserts(n: number): StackUpsert[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `svc-${String(i).padStart(4, '0')}`;
    return { name, path: `stacks/${name}`, description: null, labels: ['big'], annotations: {}, content: { yaml: null, checksum: `sum-${name}` } };
  });
}

async function syncedStore(engine: StoreEngine) {
  const { store, raw } = await openEngineStore(engine);
  const g = await store.ensureGenerator('repo', 'test repo');
  await store.saveSyncTarget(g.id, { repo: '/repo', branch: 'main', root: '' });
  const plan = (sha: string, parts: Partial<CommitPlan>): CommitPlan => ({
    generatorId: g.id,
    commit: commit(sha),
    expectedCursor: null,
    upserts: [],
    deletes: [],
    errors: [],
    ...parts,
  });
  return { store, raw, generatorId: g.id, plan };
}

describe.each(ENGINES)('applyCommit with contents read in batches (%s)', (engine) => {
  const total = CONTENT_BATCH_SIZE * 2 + 7; // three batches

  it('reads a commit larger than one batch in batches, and nothing of it is visible until all of it is', async () => {
    const { store, raw, generatorId, plan } = await syncedStore(engine);
    const upserts = deferredUpserts(total);
    // One stack whose YAML is in the plan itself, between deferred ones: it is not asked for.
    upserts.splice(3, 0, { name: 'inline', path: 'stacks/inline', description: null, labels: [], annotations: {}, content: { yaml: yamlOf('inline'), checksum: 'sum-inline' } });
    const batches: number[] = [];
    const seenDuring: number[] = [];
    const result = await store.applyCommit(
      plan('c1', {
        upserts,
        readContents: async (asked) => {
          batches.push(asked.length);
          // Another client looks at the database between the batches: it sees nothing of the commit.
          seenDuring.push(await raw.count('stacks'), await raw.count('deployment_objects'), (await store.listStacks()).length);
          expect((await store.getSyncState(generatorId))!.cursor_commit).toBeNull();
          return asked.map((u) => yamlOf(u.name));
        },
      }),
    );
    expect(batches).toEqual([CONTENT_BATCH_SIZE, CONTENT_BATCH_SIZE, 7]);
    expect(seenDuring.every((n) => n === 0)).toBe(true);
    expect(result.created).toHaveLength(total + 1);
    expect(await raw.count('stacks')).toBe(total + 1);
    expect((await store.getSyncState(generatorId))!.cursor_commit).toBe('c1');
    // Every object got its own content, in plan order.
    const last = result.created.at(-1)!;
    expect(await store.getObject(last.object_id)).toMatchObject({ yaml_content: yamlOf(last.name), yaml_checksum: `sum-${last.name}` });
    expect(result.written.map((w) => w.upsert)).toEqual(upserts);
    expect(result.written.every((w, i) => w.upsert === upserts[i] && w.new_stack && w.object?.object_id === result.created[i]!.object_id)).toBe(true);
    const inline = result.created.find((c) => c.name === 'inline')!;
    expect(await store.getObject(inline.object_id)).toMatchObject({ yaml_content: yamlOf('inline') });
  });

  it('a batch that fails after others were read leaves nothing of the commit behind', async () => {
    const { store, raw, generatorId, plan } = await syncedStore(engine);
    let calls = 0;
    const failing = plan('c1', {
      upserts: deferredUpserts(total),
      readContents: async (asked) => {
        if (++calls === 3) throw new Error('blob 1234567 not found');
        return asked.map((u) => yamlOf(u.name));
      },
    });
    await expect(store.applyCommit(failing)).rejects.toThrow(/blob 1234567 not found/);
    expect(calls).toBe(3);
    expect(await raw.count('stacks')).toBe(0);
    expect(await raw.count('deployment_objects')).toBe(0);
    expect(await raw.count('object_provenance')).toBe(0);
    expect((await store.getSyncState(generatorId))!.cursor_commit).toBeNull();
    // The same commit applies cleanly afterwards (nothing staged is left to collide with).
    const ok = await store.applyCommit({ ...failing, readContents: async (asked) => asked.map((u) => yamlOf(u.name)) });
    expect(ok.created).toHaveLength(total);
  });

  it('a stack the database refuses in a later batch rolls back the stacks of the earlier ones', async () => {
    const { store, raw, generatorId, plan } = await syncedStore(engine);
    // Another repository holds a live stack whose name the commit's last stack claims.
    const other = await store.ensureGenerator('other', 'another repo');
    await store.saveSyncTarget(other.id, { repo: '/other', branch: 'main', root: '' });
    const upserts = deferredUpserts(total);
    await store.applyCommit({ generatorId: other.id, commit: commit('o1'), expectedCursor: null, upserts: [{ ...upserts.at(-1)!, content: { yaml: 'a: 1\n', checksum: 'x' } }], deletes: [], errors: [] });
    let calls = 0;
    await expect(
      store.applyCommit(
        plan('c1', {
          upserts,
          readContents: async (asked) => {
            calls++;
            return asked.map((u) => yamlOf(u.name));
          },
        }),
      ),
    ).rejects.toThrow(new RegExp(upserts.at(-1)!.name));
    expect(calls).toBeGreaterThan(0);
    expect(await raw.count('stacks', 'generator_id = ?', generatorId)).toBe(0);
    expect(await raw.count('stacks')).toBe(1);
    expect((await store.getSyncState(generatorId))!.cursor_commit).toBeNull();
  });

  it('the cursor check still fences a streamed commit: nothing is written when it moved', async () => {
    const { store, raw, plan } = await syncedStore(engine);
    await store.applyCommit(plan('c1', {}));
    await expect(
      store.applyCommit(plan('c2', { expectedCursor: null, upserts: deferredUpserts(total), readContents: async (asked) => asked.map((u) => yamlOf(u.name)) })),
    ).rejects.toBeInstanceOf(CursorMovedError);
    expect(await raw.count('stacks')).toBe(0);
  });

  it('says what is wrong when readContents answers the wrong number of contents, and writes nothing', async () => {
    const { store, raw, plan } = await syncedStore(engine);
    await expect(store.applyCommit(plan('c1', { upserts: deferredUpserts(3), readContents: async () => ['a: 1\n'] }))).rejects.toThrow(
      /readContents returned 1 contents for 3 stacks/,
    );
    await expect(store.applyCommit(plan('c1', { upserts: deferredUpserts(3) }))).rejects.toThrow(/deferred content but the plan has no readContents/);
    expect(await raw.count('stacks')).toBe(0);
  });
});
