/** Outbound webhooks in the store, on every engine: subscriptions, deliveries written by the database for each change, claims, presence. */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrateDatabase, openStore } from '../../src/store/open-store.js';
import { ConflictError, type Store } from '../../src/store/store.js';
import { webhooksOf } from '../../src/store/webhooks-of.js';
import { webhookFilters } from '../../src/store/sqlite/migrations/010-webhook-filters.js';
import type { NewWebhookSubscription } from '../../src/store/webhook-store.js';
import { createTestDatabase } from '../support/postgres.js';
import { committer, ENGINES, migratedPlainDb, nextMillisecond, openEngineStore, plainConnection, rawSql, Seed, sqlite3, tempDbPath } from './store-fixture.js';

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
    expect(await hooks.listDeliveries(created.id)).toHaveLength(1);
    expect(await hooks.deleteSubscription(created.id)).toBe(true);
    expect(await hooks.deleteSubscription(created.id)).toBe(false);
    expect(await raw.count('webhook_deliveries')).toBe(0);
  });

  it('an agent event becomes deployment.applied / deployment.failed for the subscriptions that want it', async () => {
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

  it('deliveries get time-ordered UUIDs (version 7): the creation time in milliseconds first, so later ones sort after earlier ones', async () => {
    const { store } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const all = await hooks.createSubscription(sub({ name: 'all' }));
    const w = await world(store);
    const before = Date.now();
    for (let i = 0; i < 3; i++) {
      await store.createEvent({ agent_id: w.agent.id, deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: `m${i}` });
      await nextMillisecond();
    }
    const after = Date.now();
    const byTime = (await hooks.listDeliveries(all.id)).sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
    expect(byTime.map((d) => JSON.parse(d.payload).data.message)).toEqual(['m0', 'm1', 'm2']);
    for (const d of byTime) {
      expect(d.id).toMatch(UUID_V7);
      const ms = parseInt(d.id.replace(/-/g, '').slice(0, 12), 16);
      expect(ms).toBeGreaterThanOrEqual(before);
      expect(ms).toBeLessThanOrEqual(after);
    }
    const ids = byTime.map((d) => d.id);
    expect([...ids].sort()).toEqual(ids);
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
    const [a, first] = await Promise.all([hooks.claimDeliveries('a', 2, 60_000), webhooksOf(second).claimDeliveries('b', 2, 60_000)]);
    // Claims at the same moment never share a row. One may find the other writing the queued events (PostgreSQL: it
    // skips them); what the first left pending, b's next claim takes.
    const b = a.length + first.length < 3 ? [...first, ...(await webhooksOf(second).claimDeliveries('b', 2, 60_000))] : first;
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

  it("outcomes keep the receiver's answer whatever its characters; a NUL, which PostgreSQL's text cannot hold, is stored as U+FFFD and does not fail the batch", async () => {
    const { store } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    await hooks.createSubscription(sub({ name: 'all' }));
    const w = await world(store);
    for (let i = 0; i < 3; i++) await store.createEvent({ agent_id: w.agent.id, deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: `${i}` });
    const [a, b, c] = await hooks.claimDeliveries('a', 10, 60_000);
    const odd = 'say "hi", {x} \\ \\n\n\ttab é €';
    const later = new Date(Date.now() + 3_600_000).toISOString();
    expect(
      await hooks.finishDeliveries('a', [
        { id: a!.id, outcome: { status: 'success', status_code: 200, response_excerpt: odd } },
        { id: b!.id, outcome: { status: 'failed', error: `HTTP 500 ${odd}`, status_code: 500, response_excerpt: 'bin\u0000ary\u0000', next_retry_at: later } },
        { id: c!.id, outcome: { status: 'dead', error: 'NUL\u0000 in an error', status_code: 410, response_excerpt: null } },
      ]),
    ).toBe(3);
    expect(await hooks.getDelivery(a!.id)).toMatchObject({ status: 'success', response_excerpt: odd });
    expect(await hooks.getDelivery(b!.id)).toMatchObject({ status: 'failed', last_error: `HTTP 500 ${odd}`, response_excerpt: 'bin\uFFFDary\uFFFD' });
    expect(await hooks.getDelivery(c!.id)).toMatchObject({ status: 'dead', last_error: 'NUL\uFFFD in an error', response_excerpt: null });
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
    // Migration 12: the shell's trigger queues the event; the daemon's store writes its delivery.
    expect(seed.count('webhook_event_queue')).toBe(1);
    expect(seed.count('webhook_deliveries')).toBe(0);
    const store = await openStore(path);
    try {
      const [delivery, ...more] = await webhooksOf(store).listDeliveries('s1');
      expect(more).toEqual([]);
      expect(delivery!.event_type).toBe('deployment.failed');
      expect(delivery!.id).toMatch(UUID_V7);
      expect(JSON.parse(delivery!.payload).data).toMatchObject({ agent_name: 'edge', stack_name: 'web', status: 'FAILURE' });
    } finally {
      await store.close();
    }
    expect(seed.count('webhook_event_queue')).toBe(0);
    // The other triggers still write their deliveries themselves, migration 11's v7 id computed by SQLite 3.40 too.
    db.prepare(`INSERT INTO webhook_subscriptions (id, name, url, event_types) VALUES ('s2', 'stacks', 'https://x.example/s', '["stack.*"]')`).run();
    sqlite3(path, `INSERT INTO sync_errors (generator_id, stack_path, commit_sha, message) VALUES ('${g}', 'web', 'abc', 'bad label');`);
    expect(seed.row<{ id: string }>("SELECT id FROM webhook_deliveries WHERE subscription_id = 's2'").id).toMatch(UUID_V7);
    sqlite3(path, `DELETE FROM webhook_subscriptions WHERE id IN ('s1', 's2');`);
    expect(seed.count('webhook_deliveries')).toBe(0);
  });

  it('migration 10 applies in the shell, and there its triggers filter by payload and give keyed events a UUID', async () => {
    const path = tempDbPath();
    expect((await migrateDatabase(path, { target: 9 })).error).toBeUndefined();
    sqlite3(path, `BEGIN; ${webhookFilters.sql}; COMMIT;`);
    const db = plainConnection(path);
    const seed = new Seed(db);
    const g = seed.generator();
    const object = seed.object(seed.stack(g, 'web'), g);
    const [mine, other] = [seed.agent('edge'), seed.agent('other')];
    sqlite3(
      path,
      `INSERT INTO webhook_subscriptions (id, name, url, event_types, filters) VALUES ('s1', 'ops', 'https://x.example/h', '["*"]', '{"agent_id":"${mine.toUpperCase()}"}');
       INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status) VALUES ('${other}', '${object.id}', 'DEPLOY', 'FAILURE');
       INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status) VALUES ('${mine}', '${object.id}', 'DEPLOY', 'FAILURE');
       UPDATE webhook_subscriptions SET filters = NULL;
       INSERT INTO sync_errors (generator_id, stack_path, commit_sha, message) VALUES ('${g}', 'web', 'abc', 'one');
       INSERT INTO sync_errors (generator_id, stack_path, commit_sha, message) VALUES ('${g}', 'web', 'abc', 'two');`,
    );
    const rows = db.prepare('SELECT event_type, event_id, payload FROM webhook_deliveries ORDER BY event_type').all() as { event_type: string; event_id: string; payload: string }[];
    expect(rows.map((r) => [r.event_type, JSON.parse(r.payload).data.agent_id ?? null])).toEqual([
      ['deployment.failed', mine],
      ['stack.invalid', null],
    ]);
    expect(rows[1]!.event_id).toMatch(UUID);
    expect(JSON.parse(rows[1]!.payload)).toMatchObject({ id: rows[1]!.event_id, data: { message: 'one' } });
    expect(() => sqlite3(path, `UPDATE webhook_subscriptions SET filters = 'not json';`)).toThrow(/CHECK constraint failed/);
  });
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const AUDIT = { actorType: 'admin', actor: 'alice', ip: '127.0.0.1' } as const;

describe.each(ENGINES)('webhook subscriptions changed in place, payload filters, event ids (%s)', (engine) => {
  it('an update changes what it names, keeps the id and the delivery log, and is audited with it; unchanged, unknown or taken names write nothing', async () => {
    const { store } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const s = await hooks.createSubscription(sub({ event_types: ['deployment.*'] }));
    await hooks.createSubscription(sub({ name: 'taken' }));
    const w = await world(store);
    await store.createEvent({ agent_id: w.agent.id, deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null });
    const auditBefore = (await store.listAuditLogs()).total;
    await nextMillisecond();
    const updated = await hooks.updateSubscription(
      s.id,
      { name: 'oncall', url: 'https://other.example.com/h', event_types: ['deployment.failed'], secret: 'rotated', format: 'slack', timeout_seconds: 30, filters: { stack_id: w.stackId.toUpperCase() } },
      AUDIT,
    );
    expect(updated).toMatchObject({ id: s.id, name: 'oncall', url: 'https://other.example.com/h', event_types: ['deployment.failed'], has_secret: true, format: 'slack', timeout_seconds: 30, enabled: true, filters: { stack_id: w.stackId }, created_at: s.created_at });
    expect(updated!.updated_at > s.updated_at).toBe(true);
    expect(await hooks.getSubscription(s.id)).toEqual(updated);
    expect(await hooks.subscriptionSecret(s.id)).toBe('rotated');
    expect(await hooks.listDeliveries(s.id)).toHaveLength(1);
    const audit = await store.listAuditLogs({ action: 'webhook.updated' });
    expect(audit.total).toBe(1);
    expect(audit.logs[0]).toMatchObject({ actor_name: 'alice', resource_type: 'webhook', resource_id: s.id });
    expect(audit.logs[0]!.details).toMatchObject({ name: 'oncall', host: 'other.example.com', format: 'slack', signed: true, enabled: true, changed: ['name', 'url', 'event_types', 'secret', 'format', 'timeout_seconds', 'filters'] });
    expect(JSON.stringify(audit.logs[0])).not.toContain('rotated');
    // The same values again, an empty patch, an unknown id, a taken name: no change, no audit row.
    expect(await hooks.updateSubscription(s.id, { name: 'oncall', secret: 'rotated', filters: { stack_id: w.stackId } }, AUDIT)).toEqual(updated);
    expect(await hooks.updateSubscription(s.id, {}, AUDIT)).toEqual(updated);
    expect(await hooks.updateSubscription('00000000-0000-4000-8000-000000000009', { enabled: false }, AUDIT)).toBeNull();
    expect(await hooks.updateSubscription('not-a-uuid', { enabled: false }, AUDIT)).toBeNull();
    await expect(hooks.updateSubscription(s.id, { name: 'taken', enabled: false }, AUDIT)).rejects.toBeInstanceOf(ConflictError);
    expect(await hooks.getSubscription(s.id)).toEqual(updated);
    expect((await store.listAuditLogs()).total).toBe(auditBefore + 1);
    // The secret removed: unsigned from now on; filters removed with null or {}.
    expect(await hooks.updateSubscription(s.id, { secret: null, filters: {} })).toMatchObject({ has_secret: false, filters: {} });
    expect(await hooks.subscriptionSecret(s.id)).toBeNull();
  });

  it('a disabled subscription gets no new deliveries; those already queued are still sent, to the URL and with the secret it has when they are claimed; enabled again, it gets new ones', async () => {
    const { store } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const s = await hooks.createSubscription(sub({ event_types: ['deployment.*'] }));
    const w = await world(store);
    const event = (message: string) => store.createEvent({ agent_id: w.agent.id, deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'SUCCESS', message });
    const queued = await event('before');
    expect(await hooks.updateSubscription(s.id, { enabled: false, url: 'https://new.example.com/h', secret: 'new-secret' })).toMatchObject({ enabled: false });
    await event('while disabled');
    expect((await hooks.listDeliveries(s.id)).map((d) => d.event_id)).toEqual([queued.id]);
    const claimed = await hooks.claimDeliveries('a', 10, 60_000);
    expect(claimed.map((d) => [d.event_id, d.url, d.secret])).toEqual([[queued.id, 'https://new.example.com/h', 'new-secret']]);
    await hooks.updateSubscription(s.id, { enabled: true });
    const after = await event('enabled again');
    expect((await hooks.listDeliveries(s.id)).map((d) => d.event_id).sort()).toEqual([queued.id, after.id].sort());
  });

  it('payload filters: each set field must equal the event’s, and an event without it (or with it null) does not match', async () => {
    const { store, raw } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const w = await world(store);
    const r = await w.apply({ upserts: [{ name: 'api', path: 'api', description: null, labels: [], annotations: {}, content: { yaml: 'b: 1\n', checksum: 'x2' } }] });
    const other = { stackId: r.created[0]!.stack_id, objectId: r.created[0]!.object_id };
    const agent2 = await store.createAgent({ name: 'edge-2', cluster_name: 'eu', pak_hash: 'h3' });
    const byAgent = await hooks.createSubscription(sub({ name: 'by-agent', filters: { agent_id: w.agent.id } }));
    const byStack = await hooks.createSubscription(sub({ name: 'by-stack', filters: { stack_id: w.stackId } }));
    const both = await hooks.createSubscription(sub({ name: 'both', filters: { agent_id: w.agent.id, stack_id: w.stackId } }));
    const none = await hooks.createSubscription(sub({ name: 'none', filters: {} }));
    expect([byAgent.filters, byStack.filters, none.filters]).toEqual([{ agent_id: w.agent.id }, { stack_id: w.stackId }, {}]);
    const report = (agent: string, object: string) => store.createEvent({ agent_id: agent, deployment_object_id: object, event_type: 'DEPLOY', status: 'FAILURE', message: null });
    const e1 = await report(w.agent.id, w.objectId);
    const e2 = await report(w.agent.id, other.objectId);
    const e3 = await report(agent2.id, w.objectId);
    const e4 = await report(agent2.id, other.objectId);
    // Events that carry neither field (sync.failed, stack.invalid) or only stack_id (rollouts) or only agent_id (presence).
    await store.setSyncFailure(w.generatorId, 'fetch failed');
    await w.apply({ errors: [{ stack_path: 'web', errors: [{ stack_path: 'web', stack_name: 'web', commit_sha: 'y', file: 'web/stack.yaml', line: 1, message: 'bad' }] }] });
    await raw.exec(`INSERT INTO stack_rollouts (stack_id, waves, target_object_id, released, halt_reason) VALUES (?, '[{"labels":["canary"]}]', ?, '[null, null]', 'failed')`, w.stackId, w.objectId);
    await raw.exec('UPDATE agents SET last_heartbeat = ? WHERE id IN (?, ?)', new Date(Date.now() - 300_000).toISOString(), w.agent.id, agent2.id);
    await hooks.detectAgentPresence(120_000);
    const got = async (id: string) =>
      (await hooks.listDeliveries(id, { limit: 100 })).map((d) => (d.event_type.startsWith('deployment.') ? d.event_id : `${d.event_type}:${JSON.parse(d.payload).data.agent_id ?? ''}`)).sort();
    expect(await got(byAgent.id)).toEqual([e1.id, e2.id, `agent.offline:${w.agent.id}`].sort());
    expect(await got(byStack.id)).toEqual([e1.id, e3.id, 'rollout.halted:'].sort());
    expect(await got(both.id)).toEqual([e1.id]);
    expect(await got(none.id)).toEqual([e1.id, e2.id, e3.id, e4.id, 'sync.failed:', 'stack.invalid:', 'rollout.halted:', `agent.offline:${w.agent.id}`, `agent.offline:${agent2.id}`].sort());
    // Filters changed by an update apply to the next event; removed, everything of the subscribed types matches again.
    await hooks.updateSubscription(byStack.id, { filters: { stack_id: other.stackId } });
    const e5 = await report(agent2.id, other.objectId);
    await hooks.updateSubscription(byStack.id, { filters: null });
    const e6 = await report(agent2.id, w.objectId);
    expect(await got(byStack.id)).toEqual([e1.id, e3.id, e5.id, e6.id, 'rollout.halted:'].sort());
  });

  it('every event type has a UUID as its event id, the same for every subscription, and stable: a change noticed twice is one delivery', async () => {
    const { store, raw } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const a = await hooks.createSubscription(sub({ name: 'a' }));
    const b = await hooks.createSubscription(sub({ name: 'b' }));
    const w = await world(store);
    await store.createEvent({ agent_id: w.agent.id, deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null });
    await store.setSyncFailure(w.generatorId, 'fetch failed');
    const error = (message: string) => ({ stack_path: 'web', stack_name: 'web', commit_sha: 'z', file: null, line: null, message });
    await w.apply({ errors: [{ stack_path: 'web', errors: [error('one'), error('two')] }] });
    await raw.exec(`INSERT INTO stack_rollouts (stack_id, waves, target_object_id, released, halt_reason) VALUES (?, '[{"labels":["canary"]}]', ?, ?, 'x')`, w.stackId, w.objectId, JSON.stringify([w.objectId, w.objectId]));
    // Halted again for the same object after a resume: the same event, not a new delivery.
    await raw.exec('UPDATE stack_rollouts SET halt_reason = NULL WHERE stack_id = ?', w.stackId);
    await raw.exec(`UPDATE stack_rollouts SET halt_reason = 'y' WHERE stack_id = ?`, w.stackId);
    await raw.exec('UPDATE agents SET last_heartbeat = ? WHERE id = ?', new Date(Date.now() - 300_000).toISOString(), w.agent.id);
    await hooks.detectAgentPresence(120_000);
    await store.recordHeartbeat(w.agent.id);
    await hooks.detectAgentPresence(120_000);
    const ofA = await hooks.listDeliveries(a.id, { limit: 100 });
    const ofB = await hooks.listDeliveries(b.id, { limit: 100 });
    expect(ofA.map((d) => d.event_type).sort()).toEqual(['agent.offline', 'agent.online', 'deployment.applied', 'rollout.completed', 'rollout.halted', 'stack.invalid', 'sync.failed']);
    for (const d of ofA) {
      expect(d.event_id, d.event_type).toMatch(UUID);
      expect(JSON.parse(d.payload).id, d.event_type).toBe(d.event_id);
      expect(ofB.find((x) => x.event_type === d.event_type)!.event_id, d.event_type).toBe(d.event_id);
    }
    expect(new Set(ofA.map((d) => d.event_id)).size).toBe(ofA.length);
  });

  it('a database at migration 9 with queued deliveries keyed the old way upgrades: each key becomes a UUID, in the payload too, still unique', async () => {
    const target = engine === 'sqlite' ? tempDbPath() : await createTestDatabase('webhooks-010');
    expect((await migrateDatabase(target, { target: 9 })).error).toBeUndefined();
    const raw = rawSql(engine, target);
    await raw.exec(`INSERT INTO webhook_subscriptions (id, name, url, event_types) VALUES ('6d7ad3e4-4d0e-4b8e-9d71-0c7f7a6d1a01', 'ops', 'https://x.example/h', '["*"]')`);
    const old = [
      ['d0000000-0000-4000-8000-000000000001', 'stack.invalid', 'stack.invalid:g:web:abc'],
      ['d0000000-0000-4000-8000-000000000002', 'agent.offline', 'agent.offline:a:2026-01-01T00:00:00.000Z'],
      ['d0000000-0000-4000-8000-000000000003', 'deployment.applied', 'e0000000-0000-4000-8000-000000000003'],
    ];
    for (const [id, type, key] of old) {
      await raw.exec(
        `INSERT INTO webhook_deliveries (id, subscription_id, event_type, event_id, payload) VALUES (?, '6d7ad3e4-4d0e-4b8e-9d71-0c7f7a6d1a01', ?, ?, ?)`,
        id,
        type,
        key,
        JSON.stringify({ id: key, event_type: type, timestamp: '2026-01-01T00:00:00.000Z', data: { n: 1 } }),
      );
    }
    const { store } = await openEngineStore(engine, target);
    const ds = await webhooksOf(store).listDeliveries('6d7ad3e4-4d0e-4b8e-9d71-0c7f7a6d1a01');
    expect(ds).toHaveLength(3);
    for (const d of ds) {
      expect(d.event_id).toMatch(UUID);
      expect(JSON.parse(d.payload)).toMatchObject({ id: d.event_id, event_type: d.event_type, data: { n: 1 } });
    }
    expect(ds.find((d) => d.event_type === 'deployment.applied')!.event_id).toBe('e0000000-0000-4000-8000-000000000003');
    expect((await webhooksOf(store).getSubscription('ops'))!.filters).toEqual({});
  });
});

describe('webhook event ids on PostgreSQL', () => {
  it('a key is hashed to its UUID version 3 (RFC 9562) in the database: the same on every replica, and what any client can compute', async () => {
    const { raw, target } = await openEngineStore('postgres');
    const client = new pg.Client({ connectionString: target });
    await client.connect();
    try {
      const key = 'agent.offline:3f1e…:2026-11-29T05:40:00.123Z';
      const { rows } = await client.query<{ id: string }>('SELECT webhook_event_uuid($1) AS id', [key]);
      const h = createHash('md5').update(Buffer.concat([Buffer.from('6f1c5f0e5d1b4c539a4e2b0c0de0b1e5', 'hex'), Buffer.from(key, 'utf8')])).digest();
      h[6] = (h[6]! & 0x0f) | 0x30;
      h[8] = (h[8]! & 0x3f) | 0x80;
      const hex = h.toString('hex');
      expect(rows[0]!.id).toBe(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`);
      expect(rows[0]!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(await raw.count('webhook_deliveries')).toBe(0);
    } finally {
      await client.end();
    }
  });
});
