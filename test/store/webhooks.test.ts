/** Outbound webhooks in the store, on every engine: subscriptions, deliveries written by the database with the change, claims, presence. */
import { describe, expect, it } from 'vitest';
import { ConflictError, type Store } from '../../src/store/store.js';
import { webhooksOf } from '../../src/store/webhooks-of.js';
import type { NewWebhookSubscription } from '../../src/store/webhook-store.js';
import { committer, ENGINES, migratedPlainDb, openEngineStore, Seed, sqlite3 } from './store-fixture.js';

const sub = (over: Partial<NewWebhookSubscription> = {}): NewWebhookSubscription => ({
  name: 'ops',
  url: 'https://hooks.example.com/brokkr',
  event_types: ['*'],
  secret: 's3cret',
  format: 'json',
  timeout_seconds: 10,
  created_by: 'admin',
  ...over,
});

/** A stack with one object, and an agent that holds it. */
async function world(store: Store) {
  const c = await committer(store);
  const r = await c.apply({ upserts: [{ name: 'web', path: 'web', description: null, labels: [], annotations: {}, content: { yaml: 'a: 1\n', checksum: 'x1' } }] });
  const agent = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
  return { ...c, stackId: r.created[0]!.stack_id, objectId: r.created[0]!.object_id, agent };
}

describe.each(ENGINES)('webhooks store (%s)', (engine) => {
  it('a subscription is listed with has_secret, never its secret; a second one of the same name is a conflict; delete takes its deliveries', async () => {
    const { store, raw } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const created = await hooks.createSubscription(sub({ event_types: ['deployment.*', 'agent.offline'] }));
    expect(created).toMatchObject({ name: 'ops', url: 'https://hooks.example.com/brokkr', event_types: ['deployment.*', 'agent.offline'], has_secret: true, enabled: true, format: 'json' });
    expect(JSON.stringify(await hooks.listSubscriptions())).not.toContain('s3cret');
    expect(await hooks.getSubscription('ops')).toEqual(created);
    expect(await hooks.getSubscription(created.id)).toEqual(created);
    await expect(hooks.createSubscription(sub())).rejects.toBeInstanceOf(ConflictError);
    const w = await world(store);
    await store.createEvent({ agent_id: w.agent.id, deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null });
    expect(await raw.count('webhook_deliveries')).toBe(1);
    expect(await hooks.deleteSubscription(created.id)).toBe(true);
    expect(await hooks.deleteSubscription(created.id)).toBe(false);
    expect(await raw.count('webhook_deliveries')).toBe(0);
  });

  it('an agent event becomes deployment.applied / deployment.failed in its own transaction, for the subscriptions that want it', async () => {
    const { store } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const all = await hooks.createSubscription(sub({ name: 'all', event_types: ['deployment.*'] }));
    const failures = await hooks.createSubscription(sub({ name: 'failures', event_types: ['deployment.failed'], secret: null }));
    const other = await hooks.createSubscription(sub({ name: 'other', event_types: ['stack.invalid', 'agent.*'] }));
    const w = await world(store);
    const ok = await store.createEvent({ agent_id: w.agent.id, deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: 'applied' });
    const bad = await store.createEvent({ agent_id: w.agent.id, deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'FAILURE', message: 'boom' });
    const toAll = await hooks.listDeliveries(all.id);
    expect(toAll.map((d) => [d.event_type, d.event_id, d.status, d.attempts])).toEqual(
      expect.arrayContaining([
        ['deployment.applied', ok.id, 'pending', 0],
        ['deployment.failed', bad.id, 'pending', 0],
      ]),
    );
    expect((await hooks.listDeliveries(failures.id)).map((d) => d.event_id)).toEqual([bad.id]);
    expect(await hooks.listDeliveries(other.id)).toEqual([]);
    const body = JSON.parse(toAll.find((d) => d.event_id === bad.id)!.payload);
    expect(body).toMatchObject({
      id: bad.id,
      event_type: 'deployment.failed',
      timestamp: expect.stringMatching(/Z$/),
      data: { agent_event_id: bad.id, agent_id: w.agent.id, agent_name: 'edge', cluster_name: 'eu', deployment_object_id: w.objectId, stack_id: w.stackId, stack_name: 'web', event_type: 'DEPLOY', status: 'FAILURE', message: 'boom' },
    });
    expect((await hooks.listDeliveries(all.id, { status: 'pending', limit: 1 })).length).toBe(1);
  });

  it('a sync error makes one stack.invalid per stack and commit; a repository that starts failing makes one sync.failed until it recovers', async () => {
    const { store } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const s = await hooks.createSubscription(sub({ event_types: ['stack.*', 'sync.failed'] }));
    const c = await committer(store);
    const error = (message: string) => ({ stack_path: 'web', stack_name: 'web', commit_sha: 'x', file: 'web/stack.yaml', line: 3, message });
    await c.apply({ errors: [{ stack_path: 'web', errors: [error('bad label'), error('bad name')] }] });
    await store.setSyncFailure(c.generatorId, 'fetch failed');
    await store.setSyncFailure(c.generatorId, 'fetch failed again');
    await store.setSyncFailure(c.generatorId, null);
    await store.setSyncFailure(c.generatorId, 'fetch failed once more');
    const ds = await hooks.listDeliveries(s.id);
    expect(ds.filter((d) => d.event_type === 'sync.failed').map((d) => JSON.parse(d.payload).data.message).sort()).toEqual(['fetch failed', 'fetch failed once more']);
    const invalid = ds.filter((d) => d.event_type === 'stack.invalid');
    expect(invalid).toHaveLength(1);
    expect(JSON.parse(invalid[0]!.payload).data).toMatchObject({ repository: 'repo', stack_path: 'web', commit_sha: 'x', file: 'web/stack.yaml', line: 3 });
  });

  it('a rollout halting or reaching every wave is an event, once per object, whichever client writes the row', async () => {
    const { store, raw } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const s = await hooks.createSubscription(sub({ event_types: ['rollout.*'] }));
    const w = await world(store);
    await raw.exec(`INSERT INTO stack_rollouts (stack_id, waves, target_object_id, released) VALUES (?, '[{"labels":["canary"]}]', ?, ?)`, w.stackId, w.objectId, JSON.stringify([w.objectId, null]));
    expect(await hooks.listDeliveries(s.id)).toEqual([]);
    await raw.exec(`UPDATE stack_rollouts SET halt_reason = 'edge failed' WHERE stack_id = ?`, w.stackId);
    await raw.exec(`UPDATE stack_rollouts SET halt_reason = 'edge failed again' WHERE stack_id = ?`, w.stackId);
    await raw.exec(`UPDATE stack_rollouts SET halt_reason = NULL, released = ? WHERE stack_id = ?`, JSON.stringify([w.objectId, w.objectId]), w.stackId);
    await raw.exec(`UPDATE stack_rollouts SET acknowledged_seq = 5 WHERE stack_id = ?`, w.stackId);
    const ds = await hooks.listDeliveries(s.id);
    expect(ds.map((d) => d.event_type).sort()).toEqual(['rollout.completed', 'rollout.halted']);
    expect(JSON.parse(ds.find((d) => d.event_type === 'rollout.halted')!.payload).data).toMatchObject({ stack_name: 'web', halt_reason: 'edge failed', deployment_object_id: w.objectId, waves: 2 });
  });

  it('a claim goes to one holder until its lease runs out; only the holder finishes it; a failure waits for its retry time', async () => {
    const { store, target } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    await hooks.createSubscription(sub());
    const w = await world(store);
    for (let i = 0; i < 3; i++) await store.createEvent({ agent_id: w.agent.id, deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: `${i}` });
    const { store: second } = await openEngineStore(engine, target);
    const [a, b] = await Promise.all([hooks.claimDeliveries('a', 2, 60_000), webhooksOf(second).claimDeliveries('b', 2, 60_000)]);
    expect(a.length + b.length).toBe(3);
    expect(new Set([...a, ...b].map((d) => d.id)).size).toBe(3);
    expect([...a, ...b].every((d) => d.attempts === 1 && d.url === 'https://hooks.example.com/brokkr' && d.secret === 's3cret')).toBe(true);
    expect(await hooks.claimDeliveries('c', 10, 60_000)).toEqual([]);
    const mine = a[0] ?? b[0]!;
    const holder = a.includes(mine) ? 'a' : 'b';
    expect(await hooks.finishDelivery(mine.id, 'c', { status: 'success', status_code: 200, response_excerpt: null })).toBe(false);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    expect(await hooks.finishDelivery(mine.id, holder, { status: 'failed', error: 'HTTP 500', status_code: 500, response_excerpt: 'oops', next_retry_at: later })).toBe(true);
    expect(await hooks.getDelivery(mine.id)).toMatchObject({ status: 'failed', attempts: 1, last_error: 'HTTP 500', last_status_code: 500, response_excerpt: 'oops', acquired_by: null, completed_at: null });
    expect(await hooks.claimDeliveries('c', 10, 60_000)).toEqual([]);
    // An expired claim is due again.
    const short = await (async () => {
      const rest = [...a, ...b].filter((d) => d.id !== mine.id);
      for (const d of rest) await hooks.finishDelivery(d.id, a.includes(d) ? 'a' : 'b', { status: 'dead', error: 'HTTP 404', status_code: 404, response_excerpt: null });
      await store.createEvent({ agent_id: w.agent.id, deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'FAILURE', message: 'x' });
      return hooks.claimDeliveries('d', 10, 1);
    })();
    expect(short).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 20));
    const again = await hooks.claimDeliveries('e', 10, 60_000);
    expect(again.map((d) => [d.id, d.attempts])).toEqual([[short[0]!.id, 2]]);
    expect(await hooks.finishDelivery(short[0]!.id, 'd', { status: 'success', status_code: 200, response_excerpt: null })).toBe(false);
    expect(await hooks.countDeliveries()).toMatchObject({ failed: 1, dead: 2, acquired: 1, success: 0, pending: 0 });
  });

  it('one claim takes a batch, oldest first, and gives no subscription more than its cap less what it has in flight; finishing a batch marks only the rows still held', async () => {
    const { store } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const slow = await hooks.createSubscription(sub({ name: 'slow', url: 'https://slow.example.com/h' }));
    const fast = await hooks.createSubscription(sub({ name: 'fast', url: 'https://fast.example.com/h', secret: null }));
    const w = await world(store);
    for (let i = 0; i < 5; i++) await store.createEvent({ agent_id: w.agent.id, deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: `${i}` });
    // slow has 1 in flight, cap 3: this claim may give it 2 more; fast gets what the limit leaves.
    const first = await hooks.claimDeliveries('a', 6, 60_000, { perSubscription: 3, busy: new Map([[slow.id, 1]]) });
    const of = (list: typeof first, id: string) => list.filter((d) => d.subscription_id === id);
    expect(first).toHaveLength(5);
    expect(of(first, slow.id)).toHaveLength(2);
    expect(of(first, fast.id)).toHaveLength(3);
    expect(of(first, fast.id).every((d) => d.url === 'https://fast.example.com/h' && d.secret === null && d.format === 'json' && d.timeout_seconds === 10)).toBe(true);
    expect(of(first, slow.id).every((d) => d.url === 'https://slow.example.com/h' && d.secret === 's3cret')).toBe(true);
    expect(first.map((d) => d.created_at)).toEqual([...first.map((d) => d.created_at)].sort());
    // A subscription at its cap gets nothing; the others still do.
    const capped = await hooks.claimDeliveries('a', 10, 60_000, { perSubscription: 3, busy: new Map([[slow.id, 3], [fast.id, 3]]) });
    expect(capped).toEqual([]);
    const rest = await hooks.claimDeliveries('a', 10, 60_000, { perSubscription: 3, busy: new Map([[slow.id, 3]]) });
    expect(rest.map((d) => d.subscription_id)).toEqual([fast.id, fast.id]);
    // Without a cap the remaining three of slow go in one claim.
    expect(await hooks.claimDeliveries('a', 10, 60_000)).toHaveLength(3);
    const ok = { status: 'success', status_code: 200, response_excerpt: 'fine' } as const;
    const done = [...first, ...rest].map((d) => ({ id: d.id, outcome: ok }));
    expect(await hooks.finishDeliveries('b', done)).toBe(0);
    expect(await hooks.finishDeliveries('a', [...done, { id: first[0]!.id, outcome: ok }])).toBe(7);
    expect(await hooks.finishDeliveries('a', [])).toBe(0);
    expect(await hooks.getDelivery(first[0]!.id)).toMatchObject({ status: 'success', last_status_code: 200, response_excerpt: 'fine', acquired_by: null });
    expect(await hooks.countDeliveries()).toMatchObject({ success: 7, acquired: 3, pending: 0 });
  });

  it('an agent without heartbeats for offline-after is reported offline once (two replicas watching), and online when it comes back', async () => {
    const { store, target, raw } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const s = await hooks.createSubscription(sub({ event_types: ['agent.*'] }));
    const w = await world(store);
    const never = await store.createAgent({ name: 'never', cluster_name: 'eu', pak_hash: 'h2' });
    await raw.exec('UPDATE agents SET last_heartbeat = ? WHERE id = ?', new Date(Date.now() - 300_000).toISOString(), w.agent.id);
    const { store: second } = await openEngineStore(engine, target);
    const [x, y] = await Promise.all([hooks.detectAgentPresence(120_000), webhooksOf(second).detectAgentPresence(120_000)]);
    expect([...x, ...y].filter((c) => c.deliveries > 0)).toEqual([{ agent_id: w.agent.id, event_type: 'agent.offline', deliveries: 1 }]);
    expect(await hooks.detectAgentPresence(120_000)).toEqual([]);
    await store.recordHeartbeat(w.agent.id);
    expect(await hooks.detectAgentPresence(120_000)).toEqual([{ agent_id: w.agent.id, event_type: 'agent.online', deliveries: 1 }]);
    const ds = await hooks.listDeliveries(s.id);
    expect(ds.map((d) => d.event_type).sort()).toEqual(['agent.offline', 'agent.online']);
    expect(JSON.parse(ds[0]!.payload).data).toMatchObject({ agent_id: w.agent.id, agent_name: 'edge', cluster_name: 'eu', offline_after_seconds: 120 });
    expect(ds.some((d) => d.payload.includes(never.id))).toBe(false);
  });
});

describe('webhooks triggers in the sqlite3 shell (SQLite 3.40, foreign keys off)', () => {
  it('an event inserted by the shell gets its delivery; deleting the subscription there takes its deliveries', async () => {
    const { db, path } = await migratedPlainDb();
    const seed = new Seed(db);
    const g = seed.generator();
    const stack = seed.stack(g, 'web');
    const object = seed.object(stack, g);
    const agent = seed.agent('edge');
    db.prepare(`INSERT INTO webhook_subscriptions (id, name, url, event_types) VALUES ('s1', 'ops', 'https://x.example/h', '["deployment.*"]')`).run();
    sqlite3(path, `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status) VALUES ('${agent}', '${object.id}', 'DEPLOY', 'FAILURE');`);
    const row = seed.row<{ event_type: string; payload: string }>('SELECT event_type, payload FROM webhook_deliveries');
    expect(row.event_type).toBe('deployment.failed');
    expect(JSON.parse(row.payload).data).toMatchObject({ agent_name: 'edge', stack_name: 'web', status: 'FAILURE' });
    sqlite3(path, `DELETE FROM webhook_subscriptions WHERE id = 's1';`);
    expect(seed.count('webhook_deliveries')).toBe(0);
  });
});
