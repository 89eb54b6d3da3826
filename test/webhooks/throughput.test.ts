/** The delivery worker's slots: a per-subscription cap, so a hanging receiver cannot take them all; connections kept alive per receiver. */
import { describe, expect, it } from 'vitest';
import { startReceiver, until, type Receiver } from './receiver.js';
import { agentWithObject, api, daemon, onCleanup, report, stackRepo } from './daemon-world.js';

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  onCleanup(() => r.close());
  return r;
}

describe('webhook delivery slots', () => {
  it('a hanging receiver holds at most its subscription\'s cap of slots: another subscription gets every delivery meanwhile', async () => {
    const rx = await receiver();
    const d = await daemon(stackRepo(), { webhooks: { allowHosts: ['127.0.0.1'], concurrency: 4, perSubscription: 2 } });
    // The hanging receiver's attempts last 60 s: longer than this test may wait for the other subscription.
    const hang = await api(d.url, 'POST', '/webhooks', { name: 'hang', url: rx.url('/hang'), event_types: ['deployment.*'], timeout_seconds: 60 });
    const ok = await api(d.url, 'POST', '/webhooks', { name: 'ok', url: rx.url('/ok'), event_types: ['deployment.*'], timeout_seconds: 60 });
    expect([hang.status, ok.status]).toEqual([201, 201]);
    const agent = await agentWithObject(d.url);
    for (let i = 0; i < 6; i++) await report(d.url, agent, i % 2 ? 'FAILURE' : 'SUCCESS', `event ${i}`);
    await until(() => rx.to('/ok').length >= 6, 'all six deliveries of the other subscription');
    expect(rx.to('/hang')).toHaveLength(2);
    const log = async (id: string) => (await api(d.url, 'GET', `/webhooks/${id}/deliveries`)).body as { status: string }[];
    await until(async () => (await log(ok.body.id)).every((x) => x.status === 'success') || null, 'the six recorded as success');
    const hung = (await log(hang.body.id)).map((x) => x.status).sort();
    expect(hung).toEqual(['acquired', 'acquired', 'pending', 'pending', 'pending', 'pending']);
  });

  it('deliveries to one receiver reuse a kept-alive connection', async () => {
    const rx = await receiver();
    const d = await daemon(stackRepo());
    expect((await api(d.url, 'POST', '/webhooks', { name: 'ok', url: rx.url('/ok'), event_types: ['deployment.*'] })).status).toBe(201);
    const agent = await agentWithObject(d.url);
    for (let i = 1; i <= 3; i++) {
      await report(d.url, agent, 'SUCCESS', `event ${i}`);
      await until(() => rx.to('/ok').length >= i || null, `delivery ${i}`);
    }
    expect(rx.connections).toBe(1);
  });
});
