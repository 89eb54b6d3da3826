/**
 * The delivery worker stopping while a claim is on its way back from the database: the rows that
 * claim took are given back (failed, due again at once), not left claimed until the lease (5.5
 * minutes) runs out — another replica takes them at once. Both engines.
 */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import type { WebhookStore } from '../../src/store/webhook-store.js';
import { webhooksOf } from '../../src/store/webhooks-of.js';
import { DeliveryWorker } from '../../src/webhooks/delivery-worker.js';
import { UrlPolicy } from '../../src/webhooks/url-policy.js';
import { ENGINES, openEngineStore, withStack } from '../store/store-fixture.js';
import { onCleanup } from './daemon-world.js';
import { startReceiver, until } from './receiver.js';

/** The store's queue, with its claims held after the database has answered until the test lets them through. */
function heldClaims(hooks: WebhookStore) {
  let answered = false;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const held: WebhookStore = Object.create(hooks, {
    claimDeliveries: {
      value: async (...args: Parameters<WebhookStore['claimDeliveries']>) => {
        const rows = await hooks.claimDeliveries(...args);
        answered = rows.length > 0;
        await gate;
        return rows;
      },
    },
  });
  return { held, answered: () => answered || null, release };
}

async function oneEvent(store: Store): Promise<void> {
  const { objectId } = await withStack(store);
  const agent = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
  await store.createEvent({ agent_id: agent.id, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null });
}

describe.each(ENGINES)('the delivery worker stopping mid-claim (%s)', (engine) => {
  it('gives back the rows a claim took as it stopped: failed, due at once, nothing sent', async () => {
    const rx = await startReceiver();
    onCleanup(() => rx.close());
    const { store } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const sub = await hooks.createSubscription({ name: 'ops', url: rx.url('/ok'), event_types: ['*'], secret: null, format: 'json', timeout_seconds: 10, created_by: null });
    await oneEvent(store);
    const claims = heldClaims(hooks);
    const silent = { info: () => {}, warn: () => {} };
    const worker = new DeliveryWorker({ hooks: claims.held, holder: 'replica-1', policy: new UrlPolicy(['127.0.0.1']), logger: silent, pollMs: 60_000 });
    worker.start();
    await until(claims.answered, 'the claim answered by the database');
    const [claimed] = await hooks.listDeliveries(sub.id);
    expect(claimed).toMatchObject({ status: 'acquired', acquired_by: 'replica-1' });

    const before = Date.now();
    const stopping = worker.stop();
    claims.release();
    await stopping;
    const [after] = await hooks.listDeliveries(sub.id);
    expect(after).toMatchObject({ status: 'failed', acquired_by: null, attempts: 1, last_error: 'the daemon shut down during the attempt' });
    expect(Date.parse(after!.next_retry_at!)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(after!.next_retry_at!)).toBeGreaterThanOrEqual(before - 1000);
    expect(rx.to('/ok')).toEqual([]);
    // Another replica takes it at once.
    expect((await hooks.claimDeliveries('replica-2', 10, 60_000)).map((d) => d.id)).toEqual([after!.id]);
  });
});
