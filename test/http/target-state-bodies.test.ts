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
  /** The body as text (the cache keeps UTF-8 bytes). */
  const text = async (body: Promise<Buffer>) => (await body).toString('utf8');

  it('serializes an ETag once for concurrent requests of one epoch', async () => {
    const t = targets();
    const p = gatedProducer('[1]');
    const answers = Promise.all([t.body(stateAt(1), p.produce), t.body(stateAt(1), p.produce), t.body(stateAt(1), p.produce)].map(text));
    p.release();
    expect(await answers).toEqual(['[1]', '[1]', '[1]']);
    expect(p.started()).toBe(1);
    expect(await text(t.body(stateAt(1), async () => 'not asked'))).toBe('[1]');
  });

  it('still answers a request whose serialization was in flight when a newer epoch cleared the cache', async () => {
    const t = targets();
    const old = gatedProducer('[old]');
    const pending = t.body(stateAt(1), old.produce);
    expect(await text(t.body(stateAt(2), async () => '[new]'))).toBe('[new]');
    old.release();
    expect(await text(pending)).toBe('[old]');
    // The newer epoch's entry is what stays.
    expect(await text(t.body(stateAt(2), async () => 'not asked'))).toBe('[new]');
  });

  it('keeps no failed serialization: the next request tries again', async () => {
    const t = targets();
    await expect(t.body(stateAt(1), async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await text(t.body(stateAt(1), async () => '[again]'))).toBe('[again]');
  });

  it('serializes a late request of an older epoch without caching it', async () => {
    const t = targets();
    await t.body(stateAt(2), async () => '[two]');
    expect(await text(t.body(stateAt(1), async () => '[one]'))).toBe('[one]');
    expect(await text(t.body(stateAt(2), async () => 'not asked'))).toBe('[two]');
  });
});

describe('TargetStates.current', () => {
  /** A store whose agents a and b hold the same objects and c others; every query gives fresh rows. */
  const rows = (agent: string) =>
    agent === 'c'
      ? [{ id: 'o3', sequence_id: 3, stack_id: 's1' }]
      : [
          { id: 'o2', sequence_id: 2, stack_id: 's2' },
          { id: 'o1', sequence_id: 1, stack_id: 's1' },
        ];
  const store = { targetStateIds: async (agent: string) => rows(agent) } as unknown as Store;

  it('agents with the same state share one entry list; other states keep their own', async () => {
    const feed = new ChangeFeed();
    const t = new TargetStates(store, feed);
    const [a, b, c] = await Promise.all([t.current('a', 'full'), t.current('b', 'incremental'), t.current('c', 'full')]);
    expect(a.etag).toBe(b.etag);
    expect(b.entries).toBe(a.entries);
    expect(a.entries).toEqual(rows('a'));
    expect(c.entries).toEqual(rows('c'));
    expect(c.etag).not.toBe(a.etag);
    // A stack-scoped change still reaches each holder of the shared list.
    feed.notify({ stacks: ['s2'] });
    expect(t.peek('a', 'full')).toBeUndefined();
    expect(t.peek('b', 'incremental')).toBeUndefined();
    expect(t.peek('c', 'full')).toBe(c);
  });
});
