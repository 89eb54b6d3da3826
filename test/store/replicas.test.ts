/** What replicas sharing one database rely on: sync leases, the admin PAK race, change delivery between stores, unavailability. */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { StoreUnavailableError, type StoreChange } from '../../src/store/store.js';
import { postgresBaseUrl } from '../support/postgres.js';
import { ENGINES, openEngineStore, withStack } from './store-fixture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolve with the first change that matches, or fail after timeoutMs. */
function nextChange(subscribe: (l: (c: StoreChange) => void) => () => void, match: (c: StoreChange) => boolean, timeoutMs = 1000): Promise<StoreChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching change within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = subscribe((c) => {
      if (!match(c)) return;
      clearTimeout(timer);
      off();
      resolve(c);
    });
  });
}

describe.each(ENGINES)('sync leases (%s)', (engine) => {
  it('acquire, renew, refuse while another holder is live, take over after expiry, release', async () => {
    const { store } = await openEngineStore(engine);
    const g = (await store.ensureGenerator('repo', null)).id;
    expect(await store.acquireSyncLease(g, 'a', 60_000)).toBe(true);
    const [first] = await store.listSyncLeases();
    expect(first).toMatchObject({ generator_id: g, holder: 'a' });
    await sleep(5);
    expect(await store.acquireSyncLease(g, 'a', 60_000)).toBe(true); // renewal keeps acquired_at, moves expires_at
    const [renewed] = await store.listSyncLeases();
    expect(renewed!.acquired_at).toBe(first!.acquired_at);
    expect(renewed!.expires_at > first!.expires_at).toBe(true);
    expect(await store.acquireSyncLease(g, 'b', 60_000)).toBe(false);
    expect((await store.listSyncLeases())[0]!.holder).toBe('a');

    expect(await store.acquireSyncLease(g, 'a', 1)).toBe(true); // a's lease now runs out almost at once
    await sleep(20);
    expect(await store.acquireSyncLease(g, 'b', 60_000)).toBe(true);
    expect(await store.acquireSyncLease(g, 'a', 60_000)).toBe(false);

    await store.releaseSyncLease(g, 'a'); // not a's to release: nothing happens
    expect((await store.listSyncLeases())[0]!.holder).toBe('b');
    await store.releaseSyncLease(g, 'b');
    expect(await store.listSyncLeases()).toEqual([]);
    expect(await store.acquireSyncLease(g, 'a', 60_000)).toBe(true);
  });

  it('of 10 concurrent addAdminPakHashIfNone calls exactly one stores its hash', async () => {
    const { store, target } = await openEngineStore(engine);
    const { store: other } = await openEngineStore(engine, target);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? store : other).addAdminPakHashIfNone(`hash-${i}`)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    expect(await store.findPrincipal(`hash-${winner}`)).toMatchObject({ role: 'admin', name: 'admin' });
    expect(await other.hasAdminPak()).toBe(true);
  });

  it('events are listed newest first by seq, even within one millisecond', async () => {
    const { store } = await openEngineStore(engine);
    const { objectId } = await withStack(store);
    const agent = await store.createAgent({ name: 'a', cluster_name: 'c', pak_hash: 'h' });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      ids.push((await store.createEvent({ agent_id: agent.id, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: `${i}` })).id);
    }
    expect((await store.listEvents({ agentId: agent.id })).map((e) => e.id)).toEqual(ids.reverse());
  });
});

describe('replicas on one PostgreSQL database', () => {
  it("a store's listeners get another store's change within 1 s, and their own exactly once", async () => {
    const { store: a, target } = await openEngineStore('postgres');
    const { store: b } = await openEngineStore('postgres', target);
    const seenByA: StoreChange[] = [];
    a.onChange((c) => seenByA.push(c));
    const atB = nextChange((l) => b.onChange(l), (c) => c.kind === 'agent');
    const agent = await a.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
    expect(await atB).toEqual({ kind: 'agent', agentId: agent.id });
    expect(seenByA).toEqual([{ kind: 'agent', agentId: agent.id }]); // delivered right after COMMIT
    const back = nextChange((l) => a.onChange(l), (c) => c.kind === 'auth');
    await b.softDeleteAgent(agent.id);
    expect(await back).toEqual({ kind: 'auth', agentId: agent.id });
    await sleep(100); // A's own NOTIFY echo has arrived by now, and was recognised as its own
    expect(seenByA.filter((c) => c.kind === 'agent')).toHaveLength(1);
  });

  it("an agent's event reaches the other store's listeners once, and its own once; a refused one reaches nobody", async () => {
    const { store: a, target } = await openEngineStore('postgres');
    const { store: b } = await openEngineStore('postgres', target);
    const { objectId } = await withStack(a);
    const agent = await a.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
    await sleep(200); // the agent's creation announced, everywhere
    const seenByA: StoreChange[] = [];
    const seenByB: StoreChange[] = [];
    a.onChange((c) => seenByA.push(c));
    b.onChange((c) => seenByB.push(c));
    await a.createEvent({ agent_id: agent.id, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null });
    await expect(a.createEvent({ agent_id: agent.id, deployment_object_id: '00000000-0000-4000-8000-000000000000', event_type: 'DEPLOY', status: 'SUCCESS', message: null })).rejects.toThrow(/deployment object .* not found/);
    await sleep(300); // B has heard by now, and A's own echo was recognised as its own
    expect(seenByA).toEqual([{ kind: 'agent', agentId: agent.id }]);
    expect(seenByB).toEqual([{ kind: 'agent', agentId: agent.id }]);
  });

  it('a group commit announces the agents whose events it wrote, and only them', async () => {
    const { store: a, target } = await openEngineStore('postgres');
    const { store: b } = await openEngineStore('postgres', target);
    const { objectId } = await withStack(a);
    const held = await a.createAgent({ name: 'held', cluster_name: 'eu', pak_hash: 'h1' });
    const other = await a.createAgent({ name: 'other', cluster_name: 'eu', pak_hash: 'h2' });
    const stackId = (await a.getObject(objectId))!.stack_id;
    await a.addTarget(held.id, stackId);
    await sleep(200); // the writes above announced, everywhere
    const seenByA: StoreChange[] = [];
    const seenByB: StoreChange[] = [];
    a.onChange((c) => seenByA.push(c));
    b.onChange((c) => seenByB.push(c));
    // At once, so they share one batch: the agent that does not hold the stack is refused.
    const report = (agentId: string) =>
      a.createEvent({ agent_id: agentId, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null, require_association: true });
    const [ok, refused] = await Promise.allSettled([report(held.id), report(other.id)]);
    expect(ok!.status).toBe('fulfilled');
    expect(refused!.status).toBe('rejected');
    await sleep(300);
    expect(seenByA).toEqual([{ kind: 'agent', agentId: held.id }]);
    expect(seenByB).toEqual([{ kind: 'agent', agentId: held.id }]);
    expect((await b.listEvents({ agentId: other.id })).length).toBe(0);
  });

  it('a refused write announces nothing to anyone', async () => {
    const { store: a, target } = await openEngineStore('postgres');
    const { store: b } = await openEngineStore('postgres', target);
    const arrived = nextChange((l) => b.onChange(l), (c) => c.kind === 'agent');
    await a.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
    await arrived; // the first write's notification is out of the way
    const seen: StoreChange[] = [];
    a.onChange((c) => seen.push(c));
    b.onChange((c) => seen.push(c));
    await expect(a.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h2' })).rejects.toThrow(/already exists/);
    await sleep(150);
    expect(seen).toEqual([]);
  });

  it('the LISTEN connection comes back after being cut, says so once, and delivers again', async () => {
    const { store: a, target } = await openEngineStore('postgres');
    const { store: b } = await openEngineStore('postgres', target);
    const seen: StoreChange[] = [];
    b.onChange((c) => seen.push(c));
    const admin = new pg.Client({ connectionString: target });
    await admin.connect();
    try {
      const back = nextChange((l) => b.onChange(l), (c) => c.kind === 'auth', 3000);
      // Cut every LISTEN connection (as a PostgreSQL restart would): 57P01 on each.
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'brokkr-sync-listen' AND datname = current_database()");
      await back;
      expect(seen).toEqual([{ kind: 'stacks' }, { kind: 'auth', agentId: null }]);
      const delivered = nextChange((l) => b.onChange(l), (c) => c.kind === 'agent');
      const agent = await a.createAgent({ name: 'x', cluster_name: 'y', pak_hash: 'h' });
      expect(await delivered).toEqual({ kind: 'agent', agentId: agent.id });
    } finally {
      await admin.end();
    }
  });

  it('an objects change naming very many stacks travels as {kind: stacks}', async () => {
    const { changePayload } = await import('../../src/store/postgres/change-channel.js');
    const stacks = Array.from({ length: 400 }, () => crypto.randomUUID());
    expect(JSON.parse(changePayload('o', { kind: 'objects', stacks })).change).toEqual({ kind: 'stacks' });
    expect(JSON.parse(changePayload('o', { kind: 'objects', stacks: stacks.slice(0, 3) })).change).toEqual({ kind: 'objects', stacks: stacks.slice(0, 3) });
  });

  it('an unreachable server is StoreUnavailableError, and the password never shows', async () => {
    const closed = new URL(postgresBaseUrl());
    closed.port = '1'; // nothing listens on port 1
    closed.password = 's3cret-pw';
    const err = await openStore(`${closed.toString()}/brokkr`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    expect((err as Error).message).not.toContain('s3cret-pw');
    expect((err as Error).message).toContain(':***@');
  });
});
