/** The serialized target-state bodies: one serialization per ETag and epoch, shared while in flight. */
import { describe, expect, it } from 'vitest';
import { ChangeFeed } from '../../src/change-feed.js';
import type { Store } from '../../src/store/store.js';
import { TargetStates, type TargetState } from '../../src/http/target-states.js';

const stateAt = (global: number, etag = '"ts-1-a"'): TargetState => ({ etag, entries: [], global });

/** A serialization that finishes when the test says so, counting how often it was started. */
function gatedProducer(text: string) {
  let started = 0;
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    produce: async () => {
      started += 1;
      await gate;
      return text;
    },
    release: () => release(),
    started: () => started,
  };
}

describe('TargetStates.body', () => {
  // body() reads neither the store nor the feed's listeners beyond registration.
  const targets = () => new TargetStates({} as Store, new ChangeFeed());

  it('serializes an ETag once for concurrent requests of one epoch', async () => {
    const t = targets();
    const p = gatedProducer('[1]');
    const answers = Promise.all([t.body(stateAt(1), p.produce), t.body(stateAt(1), p.produce), t.body(stateAt(1), p.produce)]);
    p.release();
    expect(await answers).toEqual(['[1]', '[1]', '[1]']);
    expect(p.started()).toBe(1);
    expect(await t.body(stateAt(1), async () => 'not asked')).toBe('[1]');
  });

  it('still answers a request whose serialization was in flight when a newer epoch cleared the cache', async () => {
    const t = targets();
    const old = gatedProducer('[old]');
    const pending = t.body(stateAt(1), old.produce);
    expect(await t.body(stateAt(2), async () => '[new]')).toBe('[new]');
    old.release();
    expect(await pending).toBe('[old]');
    // The newer epoch's entry is what stays.
    expect(await t.body(stateAt(2), async () => 'not asked')).toBe('[new]');
  });

  it('keeps no failed serialization: the next request tries again', async () => {
    const t = targets();
    await expect(t.body(stateAt(1), async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await t.body(stateAt(1), async () => '[again]')).toBe('[again]');
  });

  it('serializes a late request of an older epoch without caching it', async () => {
    const t = targets();
    await t.body(stateAt(2), async () => '[two]');
    expect(await t.body(stateAt(1), async () => '[one]')).toBe('[one]');
    expect(await t.body(stateAt(2), async () => 'not asked')).toBe('[two]');
  });
});
