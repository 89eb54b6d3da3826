/**
 * SQLite's group commit of agent events (src/store/sqlite/event-batch.ts): while another connection
 * holds the write lock the batch waits on a timer, not in SQLite's busy handler, so the event loop
 * keeps running; the reports made meanwhile are written together once the lock is free.
 */
import { describe, expect, it } from 'vitest';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { openEngineStore, plainConnection, withStack } from './store-fixture.js';

describe('SQLite event batch', () => {
  it('waits for another connection’s write lock without blocking the event loop, then writes every report made meanwhile', async () => {
    const { store, target } = await openEngineStore('sqlite');
    const { objectId } = await withStack(store);
    const agent = await store.createAgent({ name: 'a', cluster_name: 'c', pak_hash: 'h' });
    const report = (message: string) => store.createEvent({ agent_id: agent.id, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message });
    const other = plainConnection(target);
    other.exec('BEGIN IMMEDIATE'); // the write lock, as the webhook delivery process takes it
    let answered = 0;
    const first = report('first').then((e) => (answered++, e));
    // The event loop turns while the lock is held: timers fire, a second report joins.
    let ticks = 0;
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => setTimeout(() => (ticks++, r()), 5));
    const second = report('second').then((e) => (answered++, e));
    await new Promise((r) => setTimeout(r, 20));
    expect(ticks).toBe(20);
    expect(answered).toBe(0);
    expect(other.prepare('SELECT count(*) AS n FROM agent_events').get()).toEqual({ n: 0 });
    other.exec('COMMIT');
    const [a, b] = await Promise.all([first, second]);
    expect([a.message, b.message]).toEqual(['first', 'second']);
    expect((await store.listEvents({ agentId: agent.id })).map((e) => e.message)).toEqual(['second', 'first']);
    // The connection's own busy timeout is back for every other write.
    expect((store as SqliteStore).db.raw.pragma('busy_timeout', { simple: true })).toBe(5000);
    other.close();
  });
});
