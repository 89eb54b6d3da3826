/**
 * The webhook queue on SQLite. An agent event's transaction only queues the event (migration 12);
 * claims, reads of the delivery log and changes to subscriptions turn queued events into
 * deliveries (src/store/sqlite/webhooks.ts). And the delivery process's own connection
 * (src/store/open-webhook-queue.ts) checkpoints the WAL after far fewer pages than the API's
 * connection, so with deliveries flowing the copying into the database file happens on the
 * delivery process, not on the API's event loop.
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DELIVERY_WAL_AUTOCHECKPOINT, openWebhookQueue } from '../../src/store/open-webhook-queue.js';
import { webhooksOf } from '../../src/store/webhooks-of.js';
import { onCleanup } from '../webhooks/daemon-world.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import type { NewWebhookSubscription } from '../../src/store/webhook-store.js';
import { openTestStore, plainConnection, withStack } from './store-fixture.js';

const PAGE = 4096;

const sub = (name: string, over: Partial<NewWebhookSubscription> = {}): NewWebhookSubscription => ({
  name,
  url: 'http://127.0.0.1:9/hook',
  event_types: ['*'],
  secret: null,
  format: 'json',
  timeout_seconds: 5,
  created_by: null,
  ...over,
});

/** A stack with one object and an agent; `report` writes one agent event through the store. */
async function reporting(store: Store) {
  const { objectId } = await withStack(store);
  const agent = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
  return {
    objectId,
    agent,
    report: (status = 'SUCCESS', message: string | null = null) => store.createEvent({ agent_id: agent.id, deployment_object_id: objectId, event_type: 'DEPLOY', status, message }),
  };
}

/** Rows of a table, read on a connection of its own (what is committed, not what a store caches). */
function count(path: string, table: string): number {
  const db = plainConnection(path);
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('agent events queued for their deliveries (migration 12)', () => {
  it("an event's own transaction writes one queue row and no delivery; the first claim writes the deliveries, claims them, and empties the queue", async () => {
    const { store, path } = await openTestStore();
    const hooks = webhooksOf(store);
    const all = await hooks.createSubscription(sub('all'));
    const failures = await hooks.createSubscription(sub('failures', { event_types: ['deployment.failed'] }));
    const { report, agent } = await reporting(store);
    const ok = await report('SUCCESS');
    const bad = await report('FAILURE', 'boom');
    await report('PENDING'); // not an outcome: never queued
    expect(count(path, 'webhook_event_queue')).toBe(2);
    expect(count(path, 'webhook_deliveries')).toBe(0);

    const claimed = await hooks.claimDeliveries('replica-1', 10, 60_000);
    expect(claimed.map((d) => [d.subscription_id, d.event_type, d.event_id]).sort()).toEqual(
      [
        [all.id, 'deployment.applied', ok.id],
        [all.id, 'deployment.failed', bad.id],
        [failures.id, 'deployment.failed', bad.id],
      ].sort(),
    );
    const body = JSON.parse(claimed.find((d) => d.subscription_id === failures.id)!.payload);
    // The envelope the trigger wrote before: the event's id, its time, brokkr's data.
    expect(body).toEqual({ id: bad.id, event_type: 'deployment.failed', timestamp: bad.created_at, data: expect.objectContaining({ agent_event_id: bad.id, agent_id: agent.id, agent_name: 'edge', status: 'FAILURE', message: 'boom' }) });
    expect(count(path, 'webhook_event_queue')).toBe(0);
    expect(count(path, 'webhook_deliveries')).toBe(3);
    expect(await hooks.claimDeliveries('replica-1', 10, 60_000)).toEqual([]);
    expect(count(path, 'webhook_deliveries')).toBe(3);
  });

  it('a subscription created after an event does not get it; one disabled or deleted after it does (as when the trigger wrote deliveries)', async () => {
    const { store, path } = await openTestStore();
    const hooks = webhooksOf(store);
    const early = await hooks.createSubscription(sub('early'));
    const gone = await hooks.createSubscription(sub('gone'));
    const { report } = await reporting(store);
    const before = await report();
    await hooks.updateSubscription(early.id, { enabled: false });
    // Deleting 'gone' writes its delivery first, then takes it with the subscription.
    expect(await hooks.deleteSubscription(gone.id)).toBe(true);
    const late = await hooks.createSubscription(sub('late'));
    expect(count(path, 'webhook_event_queue')).toBe(0);
    const after = await report();
    expect((await hooks.listDeliveries(early.id)).map((d) => d.event_id)).toEqual([before.id]);
    expect((await hooks.listDeliveries(late.id)).map((d) => d.event_id)).toEqual([after.id]);
    expect(count(path, 'webhook_deliveries')).toBe(2);
  });

  it('queued events survive a restart and are written once, oldest first, however many claims it takes (2,500 events, 2,000 a transaction)', async () => {
    const { store, path } = await openTestStore();
    const hooks = webhooksOf(store);
    await hooks.createSubscription(sub('all'));
    const { report } = await reporting(store);
    const ids: string[] = [];
    for (let i = 0; i < 2500; i++) ids.push((await report('SUCCESS', `m${i}`)).id);
    await store.close();
    expect(count(path, 'webhook_event_queue')).toBe(2500);

    const again = await openStore(path);
    onCleanup(() => again.close());
    const seen: string[] = [];
    for (let claims = 0; claims < 10; claims++) {
      const claimed = await webhooksOf(again).claimDeliveries('replica-1', 1000, 60_000);
      if (claimed.length === 0) break;
      seen.push(...claimed.map((d) => d.event_id));
    }
    expect(seen).toHaveLength(2500);
    expect(new Set(seen).size).toBe(2500);
    expect(seen).toEqual(ids);
    expect(count(path, 'webhook_event_queue')).toBe(0);
  });

  it('the delivery log and the queue counts include events still queued', async () => {
    const { store } = await openTestStore();
    const hooks = webhooksOf(store);
    const all = await hooks.createSubscription(sub('all'));
    const { report } = await reporting(store);
    const event = await report();
    expect(await hooks.countDeliveries()).toMatchObject({ pending: 1 });
    const [listed] = await hooks.listDeliveries(all.id);
    expect(listed).toMatchObject({ event_id: event.id, status: 'pending', created_at: event.created_at });
    expect(await hooks.getDelivery(listed!.id)).toEqual(listed);
  });

  it('without an enabled subscription an event queues nothing', async () => {
    const { store, path } = await openTestStore();
    const hooks = webhooksOf(store);
    const off = await hooks.createSubscription(sub('off'));
    await hooks.updateSubscription(off.id, { enabled: false });
    const { report } = await reporting(store);
    await report('SUCCESS');
    await report('FAILURE');
    expect(count(path, 'webhook_event_queue')).toBe(0);
  });
});

describe('the webhook queue on SQLite', () => {
  it("checkpoints a WAL the API's connection has left at a few hundred pages, with its first write", async () => {
    const { store, path } = await openTestStore();
    const { objectId } = await withStack(store);
    const agent = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
    await webhooksOf(store).createSubscription({ name: 'all', url: 'http://127.0.0.1:9/hook', event_types: ['*'], secret: null, format: 'json', timeout_seconds: 5, created_by: null });
    await store.createEvent({ agent_id: agent.id, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null });

    // Another client writes more pages than the queue's threshold and fewer than SQLite's default
    // 1,000, without checkpointing itself: they sit in the WAL, the database file stays as it is.
    const other = new Database(path);
    other.pragma('wal_autocheckpoint = 0');
    other.exec('CREATE TABLE scratch (b BLOB)');
    const insert = other.prepare('INSERT INTO scratch (b) VALUES (randomblob(?))');
    other.transaction(() => {
      for (let i = 0; i < DELIVERY_WAL_AUTOCHECKPOINT * 2; i++) insert.run(PAGE - 100);
    })();
    other.close();
    const before = statSync(path).size;

    const queue = await openWebhookQueue(path);
    onCleanup(() => queue.close());
    const [claimed] = await queue.hooks.claimDeliveries('replica-1', 10, 60_000);
    expect(claimed).toMatchObject({ event_type: 'deployment.applied' });

    // That claim's commit copied the WAL into the database file: the scratch pages are in it now.
    expect(statSync(path).size - before).toBeGreaterThanOrEqual(DELIVERY_WAL_AUTOCHECKPOINT * 2 * PAGE);
  });
});
