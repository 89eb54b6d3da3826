/**
 * The PAK cache's lookups in flight are shared: concurrent requests with one PAK cost one store
 * lookup, not one each (bench scenario 8: on PostgreSQL, 1,000 agents whose cache entries expired
 * together made ~30,000 lookups). An invalidation (rotation) is never bridged by a shared lookup.
 */
import { describe, expect, it } from 'vitest';
import { Authenticator } from '../../src/http/auth.js';
import { hashPak } from '../../src/http/pak.js';
import type { Principal, Store } from '../../src/store/store.js';

function fakeStore(answer: (hash: string) => Principal | null) {
  const calls: string[] = [];
  const pending: (() => void)[] = [];
  const store = {
    findPrincipal(hash: string) {
      calls.push(hash);
      return new Promise<Principal | null>((resolve) => pending.push(() => resolve(answer(hash))));
    },
  } as unknown as Store;
  return { store, calls, release: () => pending.splice(0).forEach((r) => r()) };
}

const agentWith = (pak: string, id = 'a1') => ({ role: 'agent', agent: { id, pak_hash: hashPak(pak) } }) as unknown as Principal;

describe('Authenticator: one lookup per PAK at a time', () => {
  it('concurrent misses for one PAK share a single store lookup, then the cache answers', async () => {
    let valid = 'pak-1';
    const { store, calls, release } = fakeStore((hash) => (hash === hashPak(valid) ? agentWith(valid) : null));
    const auth = new Authenticator(store);
    const answers = Array.from({ length: 50 }, () => auth.authenticate('pak-1'));
    expect(calls).toHaveLength(1);
    release();
    for (const p of await Promise.all(answers)) expect(p?.role).toBe('agent');
    expect(await auth.authenticate('pak-1')).not.toBeNull();
    expect(calls).toHaveLength(1);
    // A different PAK is its own lookup.
    const other = auth.authenticate('pak-2');
    expect(calls).toHaveLength(2);
    release();
    expect(await other).toBeNull();
    valid = 'unused';
  });

  it('a request after an invalidation does not join a lookup begun before it', async () => {
    let current = 'old';
    const { store, calls, release } = fakeStore((hash) => (hash === hashPak(current) ? agentWith(current) : null));
    const auth = new Authenticator(store);
    const before = auth.authenticate('old');
    // The PAK is rotated while that lookup waits; the store already answers with the new state.
    current = 'new';
    auth.invalidateAgent('a1');
    const after = auth.authenticate('old');
    expect(calls).toHaveLength(2);
    release();
    await before;
    expect(await after).toBeNull();
    // Nor was the early lookup's answer cached past the invalidation.
    const again = auth.authenticate('old');
    release();
    expect(await again).toBeNull();
  });
});
