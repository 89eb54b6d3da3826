/**
 * The webhook queue. An agent event's transaction only queues the event (migration 12, both
 * engines); claims, reads of the delivery log and changes to subscriptions turn queued events into
 * deliveries (src/store/{sqlite,postgres}/webhooks.ts). And on SQLite the delivery process's own connection
 * (src/store/open-webhook-queue.ts) checkpoints the WAL after far fewer pages than the API's
 * connection, so with deliveries flowing the copying into the database file happens on the
 * delivery process, not on the API's event loop.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DELIVERY_WAL_AUTOCHECKPOINT, openWebhookQueue, WEBHOOK_SESSION } from '../../src/store/open-webhook-queue.js';
import { PgDb } from '../../src/store/postgres/pg-db.js';
import { PostgresWebhooks } from '../../src/store/postgres/webhooks.js';
import { webhooksOf } from '../../src/store/webhooks-of.js';
import { onCleanup } from '../webhooks/daemon-world.js';
import type { Store } from '../../src/store/store.js';
import type { NewWebhookSubscription } from '../../src/store/webhook-store.js';
import { ENGINES, openEngineStore, openTestStore, plainConnection, rowsRead, withStack } from './store-fixture.js';

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

describe.each(ENGINES)('agent events queued for their deliveries (migration 12, %s)', (engine) => {
  it("an event's own transaction writes one queue row and no delivery; the first claim writes the deliveries, claims them, and empties the queue", async () => {
    const { store, raw } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const all = await hooks.createSubscription(sub('all'));
    const failures = await hooks.createSubscription(sub('failures', { event_types: ['deployment.failed'] }));
    const { report, agent } = await reporting(store);
    const ok = await report('SUCCESS');
    const bad = await report('FAILURE', 'boom');
    await report('PENDING'); // not an outcome: never queued
    expect(await raw.count('webhook_event_queue')).toBe(2);
    expect(await raw.count('webhook_deliveries')).toBe(0);

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
    expect(await raw.count('webhook_event_queue')).toBe(0);
    expect(await raw.count('webhook_deliveries')).toBe(3);
    expect(await hooks.claimDeliveries('replica-1', 10, 60_000)).toEqual([]);
    expect(await raw.count('webhook_deliveries')).toBe(3);
  });

  it('a subscription created after an event does not get it; one disabled or deleted after it does (as when the trigger wrote deliveries)', async () => {
    const { store, raw } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const early = await hooks.createSubscription(sub('early'));
    const gone = await hooks.createSubscription(sub('gone'));
    const { report } = await reporting(store);
    const before = await report();
    await hooks.updateSubscription(early.id, { enabled: false });
    // Deleting 'gone' writes its delivery first, then takes it with the subscription.
    expect(await hooks.deleteSubscription(gone.id)).toBe(true);
    const late = await hooks.createSubscription(sub('late'));
    expect(await raw.count('webhook_event_queue')).toBe(0);
    const after = await report();
    expect((await hooks.listDeliveries(early.id)).map((d) => d.event_id)).toEqual([before.id]);
    expect((await hooks.listDeliveries(late.id)).map((d) => d.event_id)).toEqual([after.id]);
    expect(await raw.count('webhook_deliveries')).toBe(2);
  });

  it('queued events survive a restart and are written once, oldest first, however many claims it takes (2,500 events, 2,000 a transaction)', async () => {
    const { store, target, raw } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    await hooks.createSubscription(sub('all'));
    const { report } = await reporting(store);
    const ids: string[] = [];
    for (let i = 0; i < 2500; i++) ids.push((await report('SUCCESS', `m${i}`)).id);
    await store.close();
    expect(await raw.count('webhook_event_queue')).toBe(2500);

    const { store: again } = await openEngineStore(engine, target);
    const seen: string[] = [];
    for (let claims = 0; claims < 10; claims++) {
      const claimed = await webhooksOf(again).claimDeliveries('replica-1', 1000, 60_000);
      if (claimed.length === 0) break;
      seen.push(...claimed.map((d) => d.event_id));
    }
    expect(seen).toHaveLength(2500);
    expect(new Set(seen).size).toBe(2500);
    expect(seen).toEqual(ids);
    expect(await raw.count('webhook_event_queue')).toBe(0);
  });

  it('the delivery log and the queue counts include events still queued', async () => {
    const { store } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const all = await hooks.createSubscription(sub('all'));
    const { report } = await reporting(store);
    const event = await report();
    expect(await hooks.countDeliveries()).toMatchObject({ pending: 1 });
    const [listed] = await hooks.listDeliveries(all.id);
    expect(listed).toMatchObject({ event_id: event.id, status: 'pending', created_at: event.created_at });
    expect(await hooks.getDelivery(listed!.id)).toEqual(listed);
  });

  it('a claim takes queued events up to its limit and leaves the rest pending; the next takes those before newer events', async () => {
    const { store, raw } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    await hooks.createSubscription(sub('all'));
    const { report } = await reporting(store);
    const older: string[] = [];
    for (let i = 0; i < 5; i++) older.push((await report('SUCCESS', `m${i}`)).id);
    const first = await hooks.claimDeliveries('replica-1', 2, 60_000);
    expect(first.map((d) => [d.event_id, d.attempts])).toEqual([[older[0], 1], [older[1], 1]]);
    expect(await raw.count('webhook_deliveries', "status = 'acquired' AND acquired_by = ? AND attempts = 1", 'replica-1')).toBe(2);
    // The other three are pending: written so (SQLite), or still queued (PostgreSQL), and written when the log is read.
    expect(await hooks.countDeliveries()).toMatchObject({ acquired: 2, pending: 3 });
    expect(await raw.count('webhook_deliveries', "status = 'pending' AND attempts = 0 AND acquired_by IS NULL")).toBe(3);
    const newer = [(await report('SUCCESS', 'n0')).id, (await report('SUCCESS', 'n1')).id];
    expect((await hooks.claimDeliveries('replica-1', 3, 60_000)).map((d) => d.event_id)).toEqual(older.slice(2));
    expect((await hooks.claimDeliveries('replica-1', 3, 60_000)).map((d) => d.event_id)).toEqual(newer);
    expect(await raw.count('webhook_deliveries')).toBe(7);
  });

  it('a claim with no room leaves queued events queued; the subscription with the most room sets how many a claim takes', async () => {
    const { store, raw } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const full = await hooks.createSubscription(sub('full'));
    const roomy = await hooks.createSubscription(sub('roomy'));
    const { report } = await reporting(store);
    for (let i = 0; i < 6; i++) await report('SUCCESS', `m${i}`);
    // Both subscriptions at their cap of 2: nothing claimed, and nothing is lost.
    const atCap = { perSubscription: 2, busy: new Map([[full.id, 2], [roomy.id, 2]]) };
    expect(await hooks.claimDeliveries('replica-1', 10, 60_000, atCap)).toEqual([]);
    // PostgreSQL leaves them queued (a row each) rather than writing deliveries it would update when claimed; SQLite writes them.
    expect(await raw.count('webhook_event_queue')).toBe(engine === 'postgres' ? 6 : 0);
    // roomy has room for 2: it gets the two oldest events; full gets none of them.
    const some = await hooks.claimDeliveries('replica-1', 10, 60_000, { perSubscription: 2, busy: new Map([[full.id, 2]]) });
    expect(some.map((d) => [d.subscription_id, JSON.parse(d.payload).data.message])).toEqual([
      [roomy.id, 'm0'],
      [roomy.id, 'm1'],
    ]);
    // Every event is in the log still: 12 deliveries, 2 claimed, 10 pending.
    expect(await hooks.countDeliveries()).toMatchObject({ acquired: 2, pending: 10 });
    expect(await raw.count('webhook_event_queue')).toBe(0);
  });

  it('without an enabled subscription an event queues nothing', async () => {
    const { store, raw } = await openEngineStore(engine);
    const hooks = webhooksOf(store);
    const off = await hooks.createSubscription(sub('off'));
    await hooks.updateSubscription(off.id, { enabled: false });
    const { report } = await reporting(store);
    await report('SUCCESS');
    await report('FAILURE');
    expect(await raw.count('webhook_event_queue')).toBe(0);
  });
});

/** Another replica in the middle of a collection: its transaction open, the queued events it took locked, their deliveries uncommitted. */
async function collectionInProgress(target: string): Promise<{ taken: number; commit: () => Promise<void> }> {
  const other = new pg.Client({ connectionString: target });
  await other.connect();
  onCleanup(() => other.end());
  await other.query('BEGIN');
  const taken = (await other.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_collect_agent_events(2000, false, NULL)')).rows[0]!.n;
  return { taken, commit: async () => void (await other.query('COMMIT')) };
}

describe('the webhook queue on PostgreSQL, with several replicas', () => {
  it('two replicas claiming at once write every queued event once (1,200 events, a statement-level trigger)', async () => {
    const { store, target, raw } = await openEngineStore('postgres');
    const hooks = webhooksOf(store);
    await hooks.createSubscription(sub('all'));
    const { objectId, agent } = await reporting(store);
    // One INSERT of many rows, as the daemon's group commit writes reports: the trigger queues the outcomes only.
    await raw.exec(
      `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status)
       SELECT ?::uuid, ?::uuid, 'DEPLOY', CASE WHEN n % 4 = 0 THEN 'PENDING' ELSE 'SUCCESS' END FROM generate_series(1, 1600) n`,
      agent.id,
      objectId,
    );
    expect(await raw.count('webhook_event_queue')).toBe(1200);
    const { store: second } = await openEngineStore('postgres', target);
    const replicas = [hooks, webhooksOf(second)];
    const seen: string[] = [];
    await Promise.all(
      replicas.map(async (replica, i) => {
        for (;;) {
          const claimed = await replica.claimDeliveries(`replica-${i}`, 100, 60_000);
          if (claimed.length === 0 && (await raw.count('webhook_event_queue')) === 0) return;
          seen.push(...claimed.map((d) => d.event_id));
        }
      }),
    );
    expect(seen).toHaveLength(1200);
    expect(new Set(seen).size).toBe(1200);
    expect(await raw.count('webhook_deliveries')).toBe(1200);
  });

  it("a read of the delivery log waits for another replica's collection in progress, and then lists what it wrote", async () => {
    const { store, target } = await openEngineStore('postgres');
    const hooks = webhooksOf(store);
    const all = await hooks.createSubscription(sub('all'));
    const { report } = await reporting(store);
    const event = await report();
    const other = await collectionInProgress(target);
    expect(other.taken).toBe(1);
    let listed: unknown[] | undefined;
    const reading = hooks.listDeliveries(all.id).then((rows) => (listed = rows));
    // The other replica has the queued event locked and its delivery uncommitted: the read waits for it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(listed).toBeUndefined();
    await other.commit();
    await reading;
    expect(listed).toEqual([expect.objectContaining({ event_id: event.id, status: 'pending' })]);
  });

  it("a subscription changed while another replica collects waits for it, and the delivery that replica wrote stays", async () => {
    const { store, target, raw } = await openEngineStore('postgres');
    const hooks = webhooksOf(store);
    const all = await hooks.createSubscription(sub('all'));
    const { report } = await reporting(store);
    const event = await report();
    const other = await collectionInProgress(target);
    let updated = false;
    const updating = hooks.updateSubscription(all.id, { enabled: false }).finally(() => (updated = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(updated).toBe(false);
    await other.commit();
    expect(await updating).toMatchObject({ enabled: false });
    expect((await hooks.listDeliveries(all.id)).map((d) => d.event_id)).toEqual([event.id]);
    expect(await raw.count('webhook_event_queue')).toBe(0);
  });
});

describe("the delivery process's PostgreSQL sessions", () => {
  it('are named in pg_stat_activity and commit without waiting for the WAL flush; the store keeps synchronous commits', async () => {
    const { store, target } = await openEngineStore('postgres');
    const queue = await openWebhookQueue(target);
    onCleanup(() => queue.close());
    expect(await webhooksOf(store).claimDeliveries('replica-1', 10, 60_000)).toEqual([]);
    expect(await queue.hooks.claimDeliveries('replica-1', 10, 60_000)).toEqual([]);
    const admin = new pg.Client({ connectionString: target });
    await admin.connect();
    onCleanup(() => admin.end());
    const names = (await admin.query<{ name: string }>('SELECT DISTINCT application_name AS name FROM pg_stat_activity WHERE datname = current_database()')).rows.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining([WEBHOOK_SESSION.applicationName, 'brokkr-sync']));
    // The settings a session of that pool starts with (PgDb.open, as openWebhookQueue calls it), and the store's.
    const settings = "SELECT current_setting('synchronous_commit') AS sync, current_setting('enable_seqscan') AS seqscan, current_setting('application_name') AS name";
    const pool = PgDb.open(target, 1, WEBHOOK_SESSION);
    onCleanup(() => pool.close());
    expect(await pool.one(settings)).toEqual({ sync: 'off', seqscan: 'off', name: WEBHOOK_SESSION.applicationName });
    const plain = PgDb.open(target, 1);
    onCleanup(() => plain.close());
    expect(await plain.one(settings)).toEqual({ sync: 'on', seqscan: 'on', name: 'brokkr-sync' });
  });

  it('claim and record a batch by reading its rows, not every row the tables have: plans made while the tables were young stay right as they grow', async () => {
    const { store, target } = await openEngineStore('postgres');
    await webhooksOf(store).createSubscription(sub('all'));
    const { report, agent, objectId } = await reporting(store);
    // One session (pool of one), as the delivery process's: its plans are made once, in the first cycles below.
    const db = PgDb.open(target, 1, WEBHOOK_SESSION);
    onCleanup(() => db.close());
    const hooks = new PostgresWebhooks(db);
    const cycle = async () => {
      const claimed = await hooks.claimDeliveries('replica-1', 64, 60_000);
      await hooks.finishDeliveries('replica-1', claimed.map((d) => ({ id: d.id, outcome: { status: 'success' as const, status_code: 200, response_excerpt: null } })));
      return claimed.length;
    };
    // Young tables: a few rows each, and the prepared outcome statement past its first custom plans.
    for (let i = 0; i < 8; i++) {
      await report();
      expect(await cycle()).toBe(1);
    }
    // They grow: 3,000 more events and deliveries.
    const admin = new pg.Client({ connectionString: target });
    await admin.connect();
    onCleanup(() => admin.end());
    await admin.query(
      `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status) SELECT $1, $2, 'DEPLOY', 'SUCCESS' FROM generate_series(1, 3000)`,
      [agent.id, objectId],
    );
    while ((await cycle()) > 0);
    const reads = () => rowsRead(db, ['agent_events', 'webhook_deliveries']);
    for (let i = 0; i < 10; i++) await report();
    const before = await reads();
    expect(await cycle()).toBe(10);
    const after = await reads();
    // Ten events and ten deliveries: each read by key a few times (claiming, the claim's join, recording), not 3,000.
    expect(after.agent_events - before.agent_events).toBeLessThanOrEqual(30);
    expect(after.webhook_deliveries - before.webhook_deliveries).toBeLessThanOrEqual(30);
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
