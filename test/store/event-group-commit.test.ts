/**
 * Group commit of agent events on both engines (src/store/sqlite/event-batch.ts,
 * src/store/postgres/event-batch.ts): reports made in one turn of the event loop are written
 * together, yet each is answered as if alone — its own event, in order, or its own error — and
 * each agent is announced.
 */
import { describe, expect, it } from 'vitest';
import type { Agent } from '../../src/store/records.js';
import { NotFoundError, type StoreChange } from '../../src/store/store.js';
import { ENGINES, openEngineStore, withStack } from './store-fixture.js';

const MISSING = '00000000-0000-4000-8000-000000000000';

describe.each(ENGINES)('agent events written together (%s)', (engine) => {
  it('reports made in one turn each get their own event, in order; one for a missing agent or object fails alone; every agent is announced', async () => {
    const { store } = await openEngineStore(engine);
    const { objectId } = await withStack(store);
    const agents: Agent[] = [];
    for (let i = 0; i < 4; i++) agents.push(await store.createAgent({ name: `a${i}`, cluster_name: 'c', pak_hash: `h${i}` }));
    const changes: StoreChange[] = [];
    const stop = store.onChange((c) => changes.push(c));

    const report = (agentId: string, message: string, object = objectId) =>
      store.createEvent({ agent_id: agentId, deployment_object_id: object, event_type: 'DEPLOY', status: 'SUCCESS', message });
    // All made before any is answered: one turn.
    const settled = await Promise.allSettled([
      ...Array.from({ length: 40 }, (_, i) => report(agents[i % 4]!.id, `m${i}`)),
      report(MISSING, 'nobody'),
      report(agents[0]!.id, 'nothing', MISSING),
      report('not-a-uuid', 'malformed'),
    ]);
    stop();

    const written = settled.slice(0, 40);
    expect(written.every((s) => s.status === 'fulfilled')).toBe(true);
    const events = written.map((s) => (s as PromiseFulfilledResult<Awaited<ReturnType<typeof report>>>).value);
    expect(events.map((e) => e.message)).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`));
    expect(events.map((e) => e.agent_id)).toEqual(Array.from({ length: 40 }, (_, i) => agents[i % 4]!.id));
    expect(new Set(events.map((e) => e.id)).size).toBe(40);
    const [nobody, nothing, malformed] = settled.slice(40).map((s) => (s as PromiseRejectedResult).reason as Error);
    expect(nobody).toBeInstanceOf(NotFoundError);
    expect(nobody!.message).toBe(`agent ${MISSING} not found`);
    expect(nothing).toBeInstanceOf(NotFoundError);
    expect(nothing!.message).toBe(`deployment object ${MISSING} not found`);
    expect(malformed).toBeInstanceOf(NotFoundError);

    // Stored once each, newest first in the order they were made.
    for (let a = 0; a < 4; a++) {
      const stored = await store.listEvents({ agentId: agents[a]!.id });
      expect(stored.map((e) => e.message)).toEqual(
        Array.from({ length: 40 }, (_, i) => i)
          .filter((i) => i % 4 === a)
          .map((i) => `m${i}`)
          .reverse(),
      );
    }
    // Each agent that reported was announced (the long polls of its target state wake).
    const announced = new Set(changes.flatMap((c) => (c.kind === 'agent' ? [c.agentId] : [])));
    for (const a of agents) expect(announced.has(a.id)).toBe(true);
    expect(announced.has(MISSING)).toBe(false);
  });
});

describe('agent events written together (postgres): a value the database refuses', () => {
  it('fails only its own report: the others of its batch are written one by one', async () => {
    const { store } = await openEngineStore('postgres');
    const { objectId } = await withStack(store);
    const agent = await store.createAgent({ name: 'a', cluster_name: 'c', pak_hash: 'h' });
    const report = (status: string, message: string) => store.createEvent({ agent_id: agent.id, deployment_object_id: objectId, event_type: 'DEPLOY', status, message });
    const settled = await Promise.allSettled([report('SUCCESS', 'before'), report('X'.repeat(11), 'too long a status'), report('FAILURE', 'after')]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(/too long|value too long/i);
    expect((await store.listEvents({ agentId: agent.id })).map((e) => e.message)).toEqual(['after', 'before']);
  });
});
