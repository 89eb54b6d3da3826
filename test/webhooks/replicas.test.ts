/** Two daemons (replicas) on one PostgreSQL database, one receiver: every delivery is sent once, by one of them. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { webhooksOf } from '../../src/store/webhooks-of.js';
import { borrowTestDatabase } from '../support/postgres.js';
import { tempDir } from '../http/http-fixture.js';
import { agentWithObject, api, daemon, onCleanup, report, stackRepo } from './daemon-world.js';
import { startReceiver, until } from './receiver.js';

describe('outbound webhooks with two replicas on PostgreSQL', () => {
  it('each delivery reaches the receiver once, whichever replica claims it, and both replicas send', async () => {
    const rx = await startReceiver();
    onCleanup(() => rx.close());
    const borrowed = await borrowTestDatabase('webhooks');
    onCleanup(borrowed.release);
    const repo = stackRepo();
    const [a, b] = await Promise.all(
      ['a', 'b'].map((name) => daemon(repo, { db: borrowed.url, dataDir: join(tempDir(), 'data'), replicaId: `replica-${name}`, webhooks: { allowHosts: ['127.0.0.1'], concurrency: 2 } })),
    );
    const sub = await api(a!.url, 'POST', '/webhooks', { name: 'slow', url: rx.url('/slow'), event_types: ['deployment.*'] });
    expect(sub.status).toBe(201);
    const agent = await agentWithObject(b!.url);
    const events: string[] = [];
    for (let i = 0; i < 12; i++) events.push(await report(i % 2 ? a!.url : b!.url, agent, i % 3 ? 'SUCCESS' : 'FAILURE', `attempt ${i}`));
    await until(async () => (await webhooksOf(a!.store).countDeliveries()).success === 12, 'twelve deliveries', 30_000);
    const ids = rx.to('/slow').map((r) => JSON.parse(r.body.toString()).id as string);
    expect(ids.sort()).toEqual([...events].sort());
    expect(new Set(rx.to('/slow').map((r) => r.headers['x-brokkr-delivery-id'])).size).toBe(12);
    const senders = await webhooksOf(a!.store).listDeliveries(sub.body.id, { limit: 100 });
    expect(senders.every((d) => d.attempts === 1 && d.status === 'success')).toBe(true);
    // Both replicas took part (each holds at most 2 in flight; twelve 300 ms answers need both).
    expect(a!.webhooks.delivered + b!.webhooks.delivered).toBe(12);
    expect(a!.webhooks.delivered).toBeGreaterThan(0);
    expect(b!.webhooks.delivered).toBeGreaterThan(0);
  });
});
