/**
 * Statements run hundreds of times a second are kept prepared on each connection (pg-db.ts,
 * `prepared`): parsed and planned once, not at every call. The report's association check, sent as
 * text, cost the server more to plan than to run (BENCHMARKS F12, ninth pass).
 */
import { describe, expect, it } from 'vitest';
import { PgDb, prepared } from '../../src/store/postgres/pg-db.js';
import { onCleanup } from '../webhooks/daemon-world.js';
import type { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createEventsAlone } from '../../src/store/postgres/events.js';
import { openEngineStore, rowsRead, withStack } from './store-fixture.js';

describe('prepared statements (postgres)', () => {
  it('are named by their text, kept by the connection after the first call, and answer like the text', async () => {
    const { store, target } = await openEngineStore('postgres');
    onCleanup(() => store.close());
    const db = PgDb.open(target, 1); // one connection: the same session throughout
    onCleanup(() => db.close());
    const add = prepared('SELECT $1::int + $2::int AS n');
    expect(add.name).toBe(prepared('SELECT $1::int + $2::int AS n').name);
    expect(add.name).not.toBe(prepared('SELECT $1::int - $2::int AS n').name);
    expect(add.name).toMatch(/^brokkr_[0-9a-f]{24}$/);
    const kept = async () => (await db.rows<{ name: string }>('SELECT name FROM pg_prepared_statements')).map((r) => r.name);
    expect(await kept()).not.toContain(add.name);
    expect(await db.one<{ n: number }>(add, [2, 3])).toEqual({ n: 5 });
    expect(await kept()).toContain(add.name);
    // Again, and inside a transaction on the same connection: the kept statement, other values.
    expect(await db.one<{ n: number }>(add, [40, 2])).toEqual({ n: 42 });
    expect(await db.tx((sql) => sql.one<{ n: number }>(add, [1, 1]))).toEqual({ n: 2 });
    expect((await kept()).filter((n) => n === add.name)).toHaveLength(1);
  });

  it("the store's event reports run prepared: the batch's statement, its checks and rollout check included", async () => {
    const { store } = await openEngineStore('postgres');
    onCleanup(() => store.close());
    const { objectId } = await withStack(store);
    const agent = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'hash-edge' });
    for (let i = 0; i < 3; i++) {
      await store.createEvent({ agent_id: agent.id, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: `${i}`, require_association: false });
    }
    expect((await store.listEvents({ agentId: agent.id })).map((e) => e.message).sort()).toEqual(['0', '1', '2']);
    // One report at a time: the pool hands its most recently released connection out again, so the
    // session that wrote them answers this too (prepared statements are per session).
    const { db } = store as PostgresStore;
    const kept = (await db.rows<{ statement: string }>('SELECT statement FROM pg_prepared_statements')).map((r) => r.statement);
    expect(kept.some((s) => s.includes('INSERT INTO agent_events'))).toBe(true);
    expect(kept.some((s) => s.includes('FROM stack_rollouts WHERE target_object_id = ANY'))).toBe(true);
  });

  it("a batch of reports checks each one's association by its keys, not by reading and hashing the fleet's labels (a database without statistics yet)", async () => {
    const { store, target } = await openEngineStore('postgres');
    onCleanup(() => store.close());
    const { objectId, stackId } = await withStack(store);
    const agent = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'hash-edge' });
    const db = PgDb.open(target, 1); // one session, whose reads are counted below; no ANALYZE has run (autovacuum's comes later)
    onCleanup(() => db.close());
    // The agent holds the stack by a label (the association the check looks for last but one).
    await db.run("INSERT INTO stack_labels (stack_id, label) VALUES ($1, 'edge')", [stackId]);
    await db.run("INSERT INTO agent_labels (agent_id, label) VALUES ($1, 'edge')", [agent.id]);
    const batch = (n: number) =>
      createEventsAlone(
        db,
        Array.from({ length: n }, (_, i) => ({ agent_id: agent.id, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: `${i}`, require_association: true })),
        'brokkr_test',
        () => '{}',
      );
    // A fleet: 1,000 more agents, each with a label, and 1,000 more labelled stacks.
    await db.run(`INSERT INTO agents (name, cluster_name, pak_hash) SELECT 'a' || i, 'eu', 'h' || i FROM generate_series(1, 1000) i`);
    await db.run(`INSERT INTO agent_labels (agent_id, label) SELECT id, 'team-' || name FROM agents WHERE name LIKE 'a%'`);
    await db.run(`INSERT INTO stacks (name, generator_id) SELECT 's' || i, generator_id FROM generate_series(1, 1000) i, (SELECT generator_id FROM stacks WHERE id = $1) g`, [stackId]);
    await db.run(`INSERT INTO stack_labels (stack_id, label) SELECT id, 'team-a' || substr(name, 2) FROM stacks WHERE name ~ '^s[0-9]+$'`);
    // The session's plans, made for this fleet.
    for (let i = 0; i < 8; i++) expect((await batch(4))!.every((o) => 'event' in o)).toBe(true);
    const reads = () => rowsRead(db, ['agent_labels', 'stack_labels']);
    const before = await reads();
    expect((await batch(4))!.every((o) => 'event' in o)).toBe(true);
    const after = await reads();
    // Four reports of one agent on one stack: a label each side per report (1,001 each, read and hashed, before).
    for (const table of ['agent_labels', 'stack_labels']) expect(after[table]! - before[table]!, table).toBeLessThanOrEqual(8);
  });
});
