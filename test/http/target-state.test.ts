/** Target state: association rules, ordering, incremental vs full, deletion markers, ETags and long polls. */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { ENGINES } from '../store/store-fixture.js';
import { startTestServer, type TestServer } from './http-fixture.js';

const ts = (s: TestServer, id: string, pak: string, query = '', headers: Record<string, string> = {}) =>
  s.call('GET', `/api/v1/agents/${id}/target-state${query}`, { pak, headers });

const names = async (s: TestServer, objects: { stack_id: string }[]) => {
  const stacks = await s.store.listStacks({ includeDeleted: true });
  return objects.map((o) => stacks.find((st) => st.id === o.stack_id)?.name);
};

async function report(s: TestServer, agent: { id: string; pak: string }, objectId: string, status: 'SUCCESS' | 'FAILURE', event_type = 'DEPLOY') {
  const res = await s.call('POST', `/api/v1/agents/${agent.id}/events`, {
    pak: agent.pak,
    body: { deployment_object_id: objectId, event_type, status, message: status === 'FAILURE' ? 'apply failed' : null },
  });
  expect(res.status, res.text).toBe(201);
  return res.body;
}

/** A store whose calls of one method are counted (to prove cache hits skip the database). */
function countingStore(store: Store, method: keyof Store = 'targetStateIds'): { store: Store; calls: () => number } {
  let n = 0;
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === method) {
        return (...args: unknown[]) => {
          n += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: proxy, calls: () => n };
}

describe.each(ENGINES)('association (%s)', (engine) => {
  it('a stack reaches an agent by explicit target, by a shared label, or by an equal annotation; nothing else does', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent({ labels: ['prod'], annotations: { region: 'eu' } });
    const ids = await s.repo.commit([
      { name: 'targeted', yaml: 'a: 1\n' },
      { name: 'by-label', labels: ['prod'], yaml: 'b: 1\n' },
      { name: 'by-annotation', annotations: { region: 'eu' }, yaml: 'c: 1\n' },
      { name: 'annotation-value-differs', annotations: { region: 'us' }, yaml: 'd: 1\n' },
      { name: 'label-differs', labels: ['staging'], yaml: 'e: 1\n' },
      { name: 'unrelated', yaml: 'f: 1\n' },
    ]);
    expect((await s.call('POST', `/api/v1/agents/${agent.id}/targets`, { body: { stack_id: ids.get('targeted') } })).status).toBe(201);
    const res = await ts(s, agent.id, pak, '?mode=full');
    expect(res.status).toBe(200);
    expect((await names(s, res.body)).sort()).toEqual(['by-annotation', 'by-label', 'targeted']);
    const stacks = await s.call('GET', `/api/v1/agents/${agent.id}/stacks`, { pak });
    expect(stacks.body.map((st: { name: string }) => st.name).sort()).toEqual(['by-annotation', 'by-label', 'targeted']);
  });

  it('an agent with no labels, annotations or targets gets an empty target state', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent();
    await s.repo.commit([{ name: 'web', labels: ['prod'], yaml: 'a: 1\n' }]);
    const res = await ts(s, agent.id, pak, '?mode=full');
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });
});

describe.each(ENGINES)('content and ordering (%s)', (engine) => {
  it('delivers only the latest object of each stack, newest sequence_id first, with the record fields of deployment_objects', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent({ labels: ['prod'] });
    await s.repo.commit([
      { name: 'a', labels: ['prod'], yaml: 'a: 1\n' },
      { name: 'b', labels: ['prod'], yaml: 'b: 1\n' },
    ]);
    await s.repo.commit([{ name: 'a', labels: ['prod'], yaml: 'a: 2\n' }]);
    const res = await ts(s, agent.id, pak);
    expect(await names(s, res.body)).toEqual(['a', 'b']);
    expect(res.body[0].yaml_content).toBe('a: 2\n');
    const seq = res.body.map((o: { sequence_id: number }) => o.sequence_id);
    expect(seq).toEqual([...seq].sort((x: number, y: number) => y - x));
    expect(Object.keys(res.body[0]).sort()).toEqual(
      [
        'created_at',
        'deleted_at',
        'generator_id',
        'id',
        'is_deletion_marker',
        'sequence_id',
        'stack_id',
        'submitted_at',
        'updated_at',
        'yaml_checksum',
        'yaml_content',
      ].sort(),
    );
    expect(typeof res.body[0].sequence_id).toBe('number');
    expect(res.body[0].is_deletion_marker).toBe(false);
  });

  it('a deleted stack delivers its deletion marker until the agent reports it done', async () => {
    const s = await startTestServer({}, { engine });
    const agent = await s.createAgent({ labels: ['prod'] });
    await s.repo.commit([{ name: 'gone', labels: ['prod'], yaml: 'a: 1\n' }]);
    await s.repo.commit([], ['gone']);
    const res = await ts(s, agent.agent.id, agent.pak);
    expect(res.body).toHaveLength(1);
    expect(res.body[0]).toMatchObject({ is_deletion_marker: true, yaml_content: '', yaml_checksum: 'd41d8cd98f00b204e9800998ecf8427e' });
    await report(s, { id: agent.agent.id, pak: agent.pak }, res.body[0].id, 'SUCCESS', 'DELETE');
    expect((await ts(s, agent.agent.id, agent.pak)).body).toEqual([]);
    expect((await ts(s, agent.agent.id, agent.pak, '?mode=full')).body).toHaveLength(1);
  });
});

describe.each(ENGINES)('incremental and full (%s)', (engine) => {
  it('incremental leaves out objects reported SUCCESS; full keeps them; a FAILURE is retried', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent({ labels: ['prod'] });
    await s.repo.commit([
      { name: 'ok', labels: ['prod'], yaml: 'a: 1\n' },
      { name: 'broken', labels: ['prod'], yaml: 'b: 1\n' },
    ]);
    const before = (await ts(s, agent.id, pak)).body as { id: string; stack_id: string }[];
    const [okObj, brokenObj] = await Promise.all(
      ['ok', 'broken'].map(async (n) => before.find((o) => o.stack_id === s.repo.ids.get(n))!),
    );
    await report(s, { id: agent.id, pak }, okObj!.id, 'SUCCESS');
    await report(s, { id: agent.id, pak }, brokenObj!.id, 'FAILURE');
    const incremental = await ts(s, agent.id, pak);
    expect(await names(s, incremental.body)).toEqual(['broken']);
    const defaultMode = await ts(s, agent.id, pak, '?mode=incremental');
    expect(defaultMode.body).toEqual(incremental.body);
    const full = await ts(s, agent.id, pak, '?mode=full');
    expect((await names(s, full.body)).sort()).toEqual(['broken', 'ok']);
    // A new object of the succeeded stack is pending again.
    await s.repo.commit([{ name: 'ok', labels: ['prod'], yaml: 'a: 2\n' }]);
    expect((await names(s, (await ts(s, agent.id, pak)).body)).sort()).toEqual(['broken', 'ok']);
  });
});

describe.each(ENGINES)('ETag and If-None-Match (%s)', (engine) => {
  it('answers 304 to a matching If-None-Match and 200 with a new tag after a commit', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent({ labels: ['prod'] });
    await s.repo.commit([{ name: 'a', labels: ['prod'], yaml: 'a: 1\n' }]);
    const first = await ts(s, agent.id, pak);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    const again = await ts(s, agent.id, pak, '', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.headers.get('etag')).toBe(etag);
    expect((await ts(s, agent.id, pak, '', { 'if-none-match': `W/${etag}` })).status).toBe(304);
    expect((await ts(s, agent.id, pak, '', { 'if-none-match': `"nope", ${etag}` })).status).toBe(304);
    expect((await ts(s, agent.id, pak, '', { 'if-none-match': '"stale"' })).status).toBe(200);
    await s.repo.commit([{ name: 'a', labels: ['prod'], yaml: 'a: 2\n' }]);
    const changed = await ts(s, agent.id, pak, '', { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('incremental and full have their own tags, and an event changes the incremental one', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent({ labels: ['prod'] });
    await s.repo.commit([{ name: 'a', labels: ['prod'], yaml: 'a: 1\n' }]);
    const inc = await ts(s, agent.id, pak);
    const full = await ts(s, agent.id, pak, '?mode=full');
    await report(s, { id: agent.id, pak }, inc.body[0].id, 'SUCCESS');
    expect((await ts(s, agent.id, pak, '', { 'if-none-match': inc.headers.get('etag')! })).status).toBe(200);
    expect((await ts(s, agent.id, pak, '?mode=full', { 'if-none-match': full.headers.get('etag')! })).status).toBe(304);
  });

  it('repeated polls with nothing changed are answered from the cache without a database query', async () => {
    let counting!: ReturnType<typeof countingStore>;
    const s = await startTestServer({}, { engine, wrapStore: (store) => (counting = countingStore(store)).store });
    const { agent, pak } = await s.createAgent({ labels: ['prod'] });
    await s.repo.commit([{ name: 'a', labels: ['prod'], yaml: 'a: 1\n' }]);
    const first = await ts(s, agent.id, pak);
    const etag = first.headers.get('etag')!;
    const callsAfterFirst = counting.calls();
    for (let i = 0; i < 20; i++) expect((await ts(s, agent.id, pak, '', { 'if-none-match': etag })).status).toBe(304);
    expect(counting.calls()).toBe(callsAfterFirst);
    // Another agent's change does not invalidate this agent's tag.
    const other = await s.createAgent({ labels: ['dev'] });
    await s.call('POST', `/api/v1/agents/${other.agent.id}/labels`, { body: { label: 'x' } });
    expect((await ts(s, agent.id, pak, '', { 'if-none-match': etag })).status).toBe(304);
    expect(counting.calls()).toBe(callsAfterFirst);
    // A commit does.
    await s.repo.commit([{ name: 'a', labels: ['prod'], yaml: 'a: 2\n' }]);
    expect((await ts(s, agent.id, pak, '', { 'if-none-match': etag })).status).toBe(200);
    expect(counting.calls()).toBe(callsAfterFirst + 1);
  });

  it('a commit that changes only some stacks re-reads only the agents holding them; a global change re-reads everyone', async () => {
    let counting!: ReturnType<typeof countingStore>;
    const s = await startTestServer({}, { engine, wrapStore: (store) => (counting = countingStore(store)).store });
    const prod = await s.createAgent({ labels: ['prod'] });
    const dev = await s.createAgent({ labels: ['dev'] });
    const ids = await s.repo.commit([
      { name: 'web', labels: ['prod'], yaml: 'w: 1\n' },
      { name: 'tool', labels: ['dev'], yaml: 't: 1\n' },
    ]);
    const tag = async (a: { agent: { id: string }; pak: string }) => (await ts(s, a.agent.id, a.pak)).headers.get('etag')!;
    const [prodTag, devTag] = [await tag(prod), await tag(dev)];
    const calls = counting.calls();
    // What the syncer announces for a commit that only gave `web` a new object.
    await s.repo.commit([{ name: 'web', labels: ['prod'], yaml: 'w: 2\n' }], [], false);
    s.feed.notify({ stacks: [ids.get('web')!] });
    expect((await ts(s, dev.agent.id, dev.pak, '', { 'if-none-match': devTag })).status).toBe(304);
    expect(counting.calls()).toBe(calls); // dev's cached tag still holds: no query
    const changed = await ts(s, prod.agent.id, prod.pak, '', { 'if-none-match': prodTag });
    expect(changed.status).toBe(200);
    expect(changed.body[0].yaml_content).toBe('w: 2\n');
    expect(counting.calls()).toBe(calls + 1);
    // A change without a scope (labels, new stacks, other writers) concerns everyone.
    s.feed.notify();
    expect((await ts(s, dev.agent.id, dev.pak, '', { 'if-none-match': devTag })).status).toBe(304);
    expect(counting.calls()).toBe(calls + 2);
  });
});

describe.each(ENGINES)('serialized answers (%s)', (engine) => {
  it('agents with the same target state share one read and serialization of the objects, until a commit', async () => {
    let counting!: ReturnType<typeof countingStore>;
    const s = await startTestServer({}, { engine, wrapStore: (store) => (counting = countingStore(store, 'getObjects')).store });
    const a = await s.createAgent({ labels: ['prod'] });
    const b = await s.createAgent({ labels: ['prod'] });
    await s.repo.commit([{ name: 'web', labels: ['prod'], yaml: 'a: 1\n' }]);
    const before = counting.calls();
    const [ra, rb] = await Promise.all([ts(s, a.agent.id, a.pak), ts(s, b.agent.id, b.pak)]);
    expect(ra.text).toBe(rb.text);
    expect(ra.body[0].yaml_content).toBe('a: 1\n');
    expect(counting.calls()).toBe(before + 1);
    await s.repo.commit([{ name: 'web', labels: ['prod'], yaml: 'a: 2\n' }]);
    const after = await ts(s, a.agent.id, a.pak);
    expect(after.body[0].yaml_content).toBe('a: 2\n');
    expect(counting.calls()).toBe(before + 2);
  });
});

describe.each(ENGINES)('long poll (%s)', (engine) => {
  it('a long poll is answered by a commit before its timeout', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent({ labels: ['prod'] });
    await s.repo.commit([{ name: 'a', labels: ['prod'], yaml: 'a: 1\n' }]);
    const etag = (await ts(s, agent.id, pak)).headers.get('etag')!;
    const poll = ts(s, agent.id, pak, '?wait=60', { 'if-none-match': etag });
    await until(() => s.feed.waiting === 1);
    await s.repo.commit([{ name: 'a', labels: ['prod'], yaml: 'a: 2\n' }]);
    const res = await poll;
    expect(res.status).toBe(200);
    expect(res.body[0].yaml_content).toBe('a: 2\n');
    expect(s.feed.waiting).toBe(0);
  });

  it('a parked long poll is cut off with 401 when its PAK is rotated or its agent deleted', async () => {
    const s = await startTestServer({}, { engine });
    for (const revoke of ['rotate', 'delete'] as const) {
      const { agent, pak } = await s.createAgent({ name: `revoked-${revoke}` });
      const etag = (await ts(s, agent.id, pak)).headers.get('etag')!;
      const poll = ts(s, agent.id, pak, '?wait=60', { 'if-none-match': etag });
      await until(() => s.feed.waiting === 1);
      const res =
        revoke === 'rotate'
          ? await s.call('POST', `/api/v1/agents/${agent.id}/rotate-pak`)
          : await s.call('DELETE', `/api/v1/agents/${agent.id}`);
      expect(res.status).toBeLessThan(300);
      const answer = await poll;
      expect(answer.status, revoke).toBe(401);
      expect(answer.body.code).toBe('unauthorized');
      expect(s.feed.waiting).toBe(0);
    }
  });

  it('a long poll is answered by an admin adding a label that associates a stack', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent();
    await s.repo.commit([{ name: 'a', labels: ['prod'], yaml: 'a: 1\n' }]);
    const empty = await ts(s, agent.id, pak);
    expect(empty.body).toEqual([]);
    const poll = ts(s, agent.id, pak, '?wait=60', { 'if-none-match': empty.headers.get('etag')! });
    await until(() => s.feed.waiting === 1);
    expect((await s.call('POST', `/api/v1/agents/${agent.id}/labels`, { body: { label: 'prod' } })).status).toBe(201);
    const res = await poll;
    expect(res.status).toBe(200);
    expect(await names(s, res.body)).toEqual(['a']);
  });

  it('a long poll stays parked through changes that concern other agents, and answers 304 at its deadline', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent({ labels: ['prod'] });
    const other = await s.createAgent();
    await s.repo.commit([{ name: 'a', labels: ['prod'], yaml: 'a: 1\n' }]);
    const etag = (await ts(s, agent.id, pak)).headers.get('etag')!;
    const poll = ts(s, agent.id, pak, '?wait=2', { 'if-none-match': etag });
    await until(() => s.feed.waiting === 1);
    await s.call('POST', `/api/v1/agents/${other.agent.id}/labels`, { body: { label: 'dev' } });
    await s.repo.commit([{ name: 'unrelated', labels: ['dev'], yaml: 'u: 1\n' }]);
    const res = await poll;
    expect(res.status).toBe(304);
    expect(res.headers.get('etag')).toBe(etag);
  });

  it('without If-None-Match a long poll waits until there is something to deploy', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent({ labels: ['prod'] });
    const idle = await ts(s, agent.id, pak, '?wait=1');
    expect(idle.status).toBe(200);
    expect(idle.body).toEqual([]);
    const poll = ts(s, agent.id, pak, '?wait=60');
    await until(() => s.feed.waiting === 1);
    await s.repo.commit([{ name: 'a', labels: ['prod'], yaml: 'a: 1\n' }]);
    const res = await poll;
    expect(res.status).toBe(200);
    expect(await names(s, res.body)).toEqual(['a']);
  });

  it('a client that disconnects leaves no waiter behind', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent();
    const etag = (await ts(s, agent.id, pak)).headers.get('etag')!;
    const controller = new AbortController();
    const poll = s
      .call('GET', `/api/v1/agents/${agent.id}/target-state?wait=60`, { pak, headers: { 'if-none-match': etag }, signal: controller.signal })
      .catch((e: Error) => e);
    await until(() => s.feed.waiting === 1);
    controller.abort();
    expect(await poll).toBeInstanceOf(Error);
    await until(() => s.feed.waiting === 0);
  });

  it('closing the server answers parked polls at once', async () => {
    const s = await startTestServer({}, { engine });
    const { agent, pak } = await s.createAgent();
    const etag = (await ts(s, agent.id, pak)).headers.get('etag')!;
    const poll = ts(s, agent.id, pak, '?wait=60', { 'if-none-match': etag });
    await until(() => s.feed.waiting === 1);
    await s.app.close();
    expect((await poll).status).toBe(304);
  });

  // One server for the refused requests below (each changes nothing; each creates its own agent).
  let refusals: Promise<TestServer> | undefined;
  const refusalServer = () => (refusals ??= startTestServer({}, { engine, keep: 'file' }));
  it.each([
    ['?wait=61', 'querystring.wait must be whole seconds from 0 to 60 (long poll)'],
    ['?wait=-1', 'querystring.wait'],
    ['?wait=1.5', 'querystring.wait'],
    ['?wait=abc', 'querystring.wait'],
    ['?mode=everything', 'querystring.mode must be one of incremental, full'],
  ])('%s is refused with 400 naming the parameter', async (query, message) => {
    const s = await refusalServer();
    const { agent, pak } = await s.createAgent();
    const res = await ts(s, agent.id, pak, query);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('bad_request');
    expect(res.body.message).toContain(message);
  });

  it('an admin asking for an unknown agent gets 404', async () => {
    const s = await refusalServer();
    const res = await s.call('GET', '/api/v1/agents/00000000-0000-4000-8000-000000000000/target-state');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
  });
});

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}
