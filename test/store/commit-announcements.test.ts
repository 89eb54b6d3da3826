/**
 * Every applied commit is announced (store.onChange), on every engine: what changed decides the
 * kind. A commit that only records a sync error or moves the cursor is a 'sync' change, so status
 * views (the dashboard's /changes long poll) see it at once instead of at their periodic refresh.
 */
import { describe, expect, it } from 'vitest';
import type { StoreChange } from '../../src/store/store.js';
import { committer, ENGINES, openEngineStore } from './store-fixture.js';

describe.each(ENGINES)('commit announcements (%s)', (engine) => {
  it('new stack → stacks; new object only → objects; only an error, or nothing → sync', async () => {
    const { store } = await openEngineStore(engine);
    const { apply } = await committer(store);
    const seen: StoreChange[] = [];
    store.onChange((c) => seen.push(c));
    const next = async (parts: Parameters<typeof apply>[0]) => {
      seen.length = 0;
      const result = await apply(parts);
      return { result, changes: seen.filter((c) => c.kind !== 'sync-requested') };
    };
    const base = { path: 'web', description: null, labels: [], annotations: {} };

    const created = await next({ upserts: [{ ...base, name: 'web', content: { yaml: 'a: 1\n', checksum: 'a1' } }] });
    expect(created.changes).toEqual([{ kind: 'stacks' }]);
    const id = created.result.created[0]!.stack_id;

    expect((await next({ upserts: [{ ...base, id, name: 'web', content: { yaml: 'a: 2\n', checksum: 'a2' } }] })).changes).toEqual([{ kind: 'objects', stacks: [id] }]);

    const error = { stack_path: 'bad', stack_name: 'bad', commit_sha: 'c3', file: 'bad/stack.yaml', line: 3, message: 'unknown key labelz' };
    expect((await next({ errors: [{ stack_path: 'bad', errors: [error] }] })).changes).toEqual([{ kind: 'sync' }]);
    expect((await next({})).changes).toEqual([{ kind: 'sync' }]);
  });
});
