/**
 * Outbound webhooks with two real `serve` replicas on one PostgreSQL database: every delivery is
 * answered once, whichever replica claims it — also when one replica shuts down with sends in
 * flight (it gives them back; the other sends them).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { makeRepoSync } from '../helpers/git-repo.js';
import { createTestDatabase } from '../support/postgres.js';
import { startReceiver, until, type Receiver } from '../webhooks/receiver.js';
import { cleanupReplicaDirs, createAgent, startReplica, type Replica } from './support/replicas.js';

const started: Replica[] = [];
let rx: Receiver | undefined;
afterAll(async () => {
  for (const r of started) if (r.alive()) await r.stop();
  cleanupReplicaDirs();
  await rx?.close();
});

describe('outbound webhooks on two replicas', () => {
  it('each delivery is answered exactly once, by one replica or the other, across a replica stopping mid-send', async () => {
    rx = await startReceiver();
    const repo = makeRepoSync();
    repo.writeAll({ 'web/stack.yaml': 'labels: [prod]\n', 'web/app.yaml': 'kind: ConfigMap\nmetadata: {name: web}\n' });
    repo.commit('first');
    const db = await createTestDatabase('webhooks_replicas');
    // Through the environment, as an operator's unit file would set them.
    const env = { BROKKR_WEBHOOK_ALLOW_HOSTS: '127.0.0.1', BROKKR_WEBHOOK_CONCURRENCY: '2' };
    const a = await startReplica({ name: 'A', db, repo: repo.path, env });
    started.push(a);
    const b = await startReplica({ name: 'B', db, repo: repo.path, env });
    started.push(b);
    const sub = await a.call('POST', '/api/v1/webhooks', { body: { name: 'slow', url: rx.url('/slow'), event_types: ['deployment.*'] } });
    expect(sub.status).toBe(201);
    const agent = await createAgent(b, 'edge', ['prod']);
    const objectId = await until(async () => (await b.call('GET', `/api/v1/agents/${agent.id}/target-state`, { pak: agent.pak })).body?.[0]?.id as string | undefined, 'the object');
    const events: string[] = [];
    for (let i = 0; i < 16; i++) {
      const via = i % 2 ? a : b;
      const r = await via.call('POST', `/api/v1/agents/${agent.id}/events`, { pak: agent.pak, body: { deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: `#${i}` } });
      expect(r.status).toBe(201);
      events.push(r.body.id);
    }
    // A stops while it has sends in flight (2 slots, 300 ms answers): what it held goes back to the queue.
    await until(() => rx!.to('/slow').length >= 3, 'the first sends');
    expect(await a.stop()).toBe(0);
    const answered = () => rx!.to('/slow').filter((r) => r.answered === 200);
    await until(() => answered().length >= 16, 'sixteen answered deliveries', 30_000);
    const ids = answered().map((r) => JSON.parse(r.body.toString()).id as string);
    expect(ids.sort()).toEqual([...events].sort());
    const deliveryIds = answered().map((r) => String(r.headers['x-brokkr-delivery-id']));
    expect(new Set(deliveryIds).size).toBe(16);
    // The receiver's answer is on the wire before the sender records it: wait for the log to catch up.
    const statuses = async () => (await b.call('GET', `/api/v1/webhooks/${sub.body.id}/deliveries?limit=100`)).body.map((d: { status: string }) => d.status) as string[];
    await until(async () => (await statuses()).every((s) => s === 'success'), 'every delivery recorded as success');
    expect(await statuses()).toEqual(Array(16).fill('success'));
  });
});
