/**
 * A cached target state past its age on SQLite (TargetStates + PRAGMA data_version): re-read only
 * when another connection — another process, such as `brokkr-sync sync --db` — wrote the file;
 * this process's own writes are announced and move the epochs instead.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChangeFeed } from '../../src/change-feed.js';
import { TargetStates } from '../../src/http/target-states.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function counting(store: Store): { store: Store; calls: () => number } {
  let n = 0;
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === 'targetStateIds') {
        return (...args: unknown[]) => {
          n += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: proxy, calls: () => n };
}

describe('TargetStates on SQLite, past maxAgeMs', () => {
  it('keeps the cached tag while no other connection wrote the file, and re-reads once one did', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'brokkr-external-writes-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'brokkr.db');
    const store = await openStore(path);
    cleanups.push(() => store.close());
    const agent = await store.createAgent({ name: 'a1', cluster_name: 'c', pak_hash: 'a'.repeat(64) });
    const { store: watched, calls } = counting(store);
    // maxAgeMs 0: every poll finds its tag past its age.
    const targets = new TargetStates(watched, new ChangeFeed(), { maxAgeMs: 0 });

    const first = await targets.current(agent.id, 'incremental');
    expect(calls()).toBe(1);
    for (let i = 0; i < 5; i++) expect((await targets.current(agent.id, 'incremental')).etag).toBe(first.etag);
    expect(calls()).toBe(1);
    // A write through this process's own connection (announced to nobody here) is not "another process".
    await store.addLabel('agent', agent.id, 'own');
    await targets.current(agent.id, 'incremental');
    expect(calls()).toBe(1);

    // Another connection to the same file, as another process would have.
    const other = await openStore(path);
    cleanups.push(() => other.close());
    await other.addLabel('agent', agent.id, 'elsewhere');
    await targets.current(agent.id, 'incremental');
    expect(calls()).toBe(2);
    await targets.current(agent.id, 'incremental');
    expect(calls()).toBe(2);
  });
});
