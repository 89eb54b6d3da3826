/**
 * The delivery thread's own connection to a SQLite database (src/store/open-webhook-queue.ts): it
 * checkpoints the WAL after far fewer pages than the API's connection, so with deliveries flowing
 * the copying into the database file happens on the thread, not on the API's event loop.
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { THREAD_WAL_AUTOCHECKPOINT, openWebhookQueue } from '../../src/store/open-webhook-queue.js';
import { webhooksOf } from '../../src/store/webhooks-of.js';
import { onCleanup } from '../webhooks/daemon-world.js';
import { openTestStore, withStack } from './store-fixture.js';

const PAGE = 4096;

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
      for (let i = 0; i < THREAD_WAL_AUTOCHECKPOINT * 2; i++) insert.run(PAGE - 100);
    })();
    other.close();
    const before = statSync(path).size;

    const queue = await openWebhookQueue(path);
    onCleanup(() => queue.close());
    const [claimed] = await queue.hooks.claimDeliveries('replica-1', 10, 60_000);
    expect(claimed).toMatchObject({ event_type: 'deployment.applied' });

    // That claim's commit copied the WAL into the database file: the scratch pages are in it now.
    expect(statSync(path).size - before).toBeGreaterThanOrEqual(THREAD_WAL_AUTOCHECKPOINT * 2 * PAGE);
  });
});
