/**
 * Two `serve` replicas on one PostgreSQL database and one repository (SPEC §8): exactly one syncs,
 * and whatever is synced by or written through one replica is seen on the other within 1 s —
 * long polls wake, caches (target state, auth) are invalidated, a rotated PAK or a deleted agent
 * stops working. Latencies are measured in this process and printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepoSync, type TestRepo } from '../helpers/git-repo.js';
import { createTestDatabase } from '../support/postgres.js';
import {
  cleanupReplicaDirs,
  createAgent,
  Observer,
  sleep,
  startReplica,
  targetState,
  waitForCursor,
  waitForHolder,
  type Answer,
  type Replica,
} from './support/replicas.js';
import { until } from '../e2e/cli-process.js';

/** SPEC §8: a change made on or synced by any replica is visible on every replica within 1 s. */
const VISIBLE_WITHIN_MS = 1_000;
/** Long enough that a parked request has surely reached its wait (there is no signal for it). */
const PARK_MS = 250;

let repo: TestRepo;
let db: string;
let observer: Observer;
let a: Replica;
let b: Replica;
let holder: Replica;
let other: Replica;
const measured: string[] = [];

function stack(name: string, labels: string[], value: number): Record<string, string> {
  return {
    [`apps/${name}/stack.yaml`]: `name: ${name}\nlabels: [${labels.join(', ')}]\n`,
    [`apps/${name}/config.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`,
  };
}

const contentOf = (answer: Answer, value: number) =>
  (answer.body as { yaml_content: string }[]).some((o) => o.yaml_content.includes(`value: "${value}"`));

beforeAll(async () => {
  repo = makeRepoSync('brokkr-replicas-cross-');
  repo.writeAll({ ...stack('web', ['web'], 1), ...stack('api', ['api'], 1) });
  repo.commit('two stacks');
  db = await createTestDatabase('replicas_cross');
  observer = new Observer(db);
  [a, b] = await Promise.all([startReplica({ name: 'A', db, repo: repo.path }), startReplica({ name: 'B', db, repo: repo.path })]);
  holder = await waitForHolder(observer, [a, b]);
  other = holder === a ? b : a;
  await waitForCursor(observer, repo.head());
}, 60_000);

afterAll(async () => {
  console.log(`cross-replica (${measured.length} measurements):\n  ${measured.join('\n  ')}`);
  await Promise.all([a?.stop(), b?.stop()]);
  await observer?.close();
  cleanupReplicaDirs();
  repo?.cleanup();
});

describe('two replicas, one repository', () => {
  it('exactly one replica holds the sync lease; both serve the same stacks', async () => {
    for (let i = 0; i < 5; i++) {
      const leases = await observer.query<{ holder: string }>('SELECT holder FROM sync_leases WHERE expires_at > clock_timestamp()');
      expect(leases.map((l) => l.holder)).toEqual([holder.replicaId]);
      await sleep(100);
    }
    expect([a, b].filter((r) => r.output().includes('holding the sync lease'))).toEqual([holder]);
    const [onA, onB] = await Promise.all([a.call('GET', '/api/v1/stacks'), b.call('GET', '/api/v1/stacks')]);
    expect(onA.status).toBe(200);
    expect(onB.status).toBe(200);
    const names = (r: Answer) => (r.body as { name: string }[]).map((s) => s.name).sort();
    expect(names(onA)).toEqual(['api', 'web']);
    expect(names(onB)).toEqual(names(onA));
  });

  it('a commit synced by the holder wakes a long poll parked on the other replica within 1 s', async () => {
    const agent = await createAgent(holder, 'poll-other', ['web']);
    const first = await targetState(other, agent);
    expect(first.status).toBe(200);
    expect(contentOf(first, 1)).toBe(true);
    const parked = targetState(other, agent, { etag: first.headers.get('etag')!, wait: 30 });
    await sleep(PARK_MS);

    repo.writeAll(stack('web', ['web'], 2));
    const committedAt = performance.now();
    const sha = repo.commit('web value 2');
    // When the commit became visible in the database: polled back to back from this process
    // (the resolution is one query's round trip, a millisecond or two).
    const watching = (async () => {
      const end = performance.now() + 10_000;
      while (performance.now() < end) if ((await observer.cursor()) === sha) return performance.now();
      throw new Error(`the holder did not sync ${sha.slice(0, 7)} within 10 s`);
    })();
    const [answer, visibleAt] = await Promise.all([parked, watching]);
    expect(answer.status).toBe(200);
    expect(contentOf(answer, 2)).toBe(true);
    const latency = answer.at - visibleAt;
    measured.push(
      `commit synced by ${holder.name} -> long poll on ${other.name} woke: ${latency.toFixed(0)} ms after the cursor was visible ` +
        `(git commit -> agent: ${(answer.at - committedAt).toFixed(0)} ms)`,
    );
    expect(latency).toBeLessThan(VISIBLE_WITHIN_MS);
  });

  it('an agent label added through A changes the target state an agent parked on B sees', async () => {
    const agent = await createAgent(a, 'label-b', ['web']);
    const before = await targetState(b, agent);
    expect(before.status).toBe(200);
    expect((before.body as unknown[]).length).toBe(1);
    const parked = targetState(b, agent, { etag: before.headers.get('etag')!, wait: 30 });
    await sleep(PARK_MS);
    const added = await a.call('POST', `/api/v1/agents/${agent.id}/labels`, { body: { label: 'api' } });
    expect(added.status).toBe(201);
    const answer = await parked;
    expect(answer.status).toBe(200);
    expect((answer.body as unknown[]).length).toBe(2); // web and now api
    expect(answer.headers.get('etag')).not.toBe(before.headers.get('etag'));
    const latency = answer.at - added.at;
    measured.push(`label added on A -> long poll on B woke: ${latency.toFixed(0)} ms`);
    expect(latency).toBeLessThan(VISIBLE_WITHIN_MS);
  });

  it('an event posted on A is visible on B, and B drops the object from the incremental target state', async () => {
    const agent = await createAgent(b, 'events-a', ['web']);
    const before = await targetState(b, agent);
    const [object] = before.body as { id: string }[];
    expect(object).toBeDefined();
    const parked = targetState(b, agent, { etag: before.headers.get('etag')!, wait: 30 });
    await sleep(PARK_MS);
    const posted = await a.call('POST', `/api/v1/agents/${agent.id}/events`, {
      pak: agent.pak,
      body: { deployment_object_id: object!.id, event_type: 'DEPLOY', status: 'SUCCESS', message: 'applied on A' },
    });
    expect(posted.status).toBe(201);
    const answer = await parked;
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual([]); // reported SUCCESS: no longer in the incremental state
    const events = await b.call('GET', `/api/v1/agents/${agent.id}/events`, { pak: agent.pak });
    expect(events.status).toBe(200);
    expect((events.body as { id: string; message: string }[]).map((e) => e.id)).toContain(posted.body.id);
    const latency = answer.at - posted.at;
    measured.push(`event posted on A -> incremental long poll on B woke: ${latency.toFixed(0)} ms`);
    expect(latency).toBeLessThan(VISIBLE_WITHIN_MS);
  });

  it('a PAK rotated through A is refused by B within 1 s, though B had it cached; the new one works on B', async () => {
    const agent = await createAgent(a, 'rotate-a', ['web']);
    // B authenticates (and caches) the PAK, and a long poll of it is parked on B.
    const seen = await targetState(b, agent);
    expect(seen.status).toBe(200);
    expect((await b.call('GET', `/api/v1/agents/${agent.id}`, { pak: agent.pak })).status).toBe(200);
    const parked = targetState(b, agent, { etag: seen.headers.get('etag')!, wait: 30 });
    await sleep(PARK_MS);

    const rotated = await a.call('POST', `/api/v1/agents/${agent.id}/rotate-pak`);
    expect(rotated.status).toBe(200);
    const refused = await until(
      async () => {
        const r = await b.call('GET', `/api/v1/agents/${agent.id}`, { pak: agent.pak });
        return r.status === 401 ? r : null;
      },
      'B to refuse the rotated PAK',
      5_000,
    );
    const latency = refused.at - rotated.at;
    measured.push(`PAK rotated on A -> refused by B: ${latency.toFixed(0)} ms`);
    expect(latency).toBeLessThan(VISIBLE_WITHIN_MS);
    const woke = await parked;
    expect(woke.status).toBe(401);
    measured.push(`PAK rotated on A -> long poll on B answered 401: ${(woke.at - rotated.at).toFixed(0)} ms`);
    expect(woke.at - rotated.at).toBeLessThan(VISIBLE_WITHIN_MS);
    const fresh = await b.call('GET', `/api/v1/agents/${agent.id}`, { pak: rotated.body.pak as string });
    expect(fresh.status).toBe(200);
  });

  it('an agent deleted through A is refused by B within 1 s', async () => {
    const agent = await createAgent(b, 'delete-a', ['web']);
    expect((await b.call('GET', `/api/v1/agents/${agent.id}`, { pak: agent.pak })).status).toBe(200);
    expect((await targetState(b, agent)).status).toBe(200);
    const deleted = await a.call('DELETE', `/api/v1/agents/${agent.id}`);
    expect(deleted.status).toBe(204);
    const refused = await until(
      async () => {
        const r = await targetState(b, agent);
        return r.status === 401 ? r : null;
      },
      'B to refuse the deleted agent',
      5_000,
    );
    const latency = refused.at - deleted.at;
    measured.push(`agent deleted on A -> refused by B: ${latency.toFixed(0)} ms`);
    expect(latency).toBeLessThan(VISIBLE_WITHIN_MS);
    expect((await b.call('GET', `/api/v1/agents/${agent.id}`)).status).toBe(404);
  });

  it('an operator PAK revoked through A is refused by B at once, though B had it cached', async () => {
    const created = await a.call('POST', '/api/v1/paks', { body: { name: 'viewer-b', role: 'readonly' } });
    expect(created.status).toBe(201);
    const pak = (created.body as { pak: string }).pak;
    expect((await b.call('GET', '/api/v1/agents', { pak })).status).toBe(200); // now cached on B
    const revoked = await a.call('DELETE', '/api/v1/paks/viewer-b');
    expect(revoked.status).toBe(204);
    const refused = await until(
      async () => {
        const r = await b.call('GET', '/api/v1/agents', { pak });
        return r.status === 401 ? r : null;
      },
      'B to refuse the revoked operator PAK',
      5_000,
    );
    measured.push(`operator PAK revoked on A -> refused by B: ${(refused.at - revoked.at).toFixed(0)} ms`);
    // The revocation is in the audit log, read on B.
    const audit = await b.call('GET', '/api/v1/audit-logs?action=pak.revoked');
    expect((audit.body as { logs: { details: { name: string } }[] }).logs.map((l) => l.details.name)).toEqual(['viewer-b']);
  });

  it('the dashboard change feed on B wakes after a change on A; a heartbeat on A shows on B', async () => {
    const agent = await createAgent(a, 'feed-a');
    const start = await b.call('GET', '/api/v1/changes');
    expect(start.status).toBe(200);
    const version = start.body.version as number;
    const parked = b.call('GET', `/api/v1/changes?since=${version}&wait=20`);
    await sleep(PARK_MS);
    const annotated = await a.call('POST', `/api/v1/agents/${agent.id}/annotations`, { body: { key: 'region', value: 'eu-west-1' } });
    expect(annotated.status).toBe(201);
    const answer = await parked;
    expect(answer.status).toBe(200);
    expect(answer.body.version).toBeGreaterThan(version);
    const latency = answer.at - annotated.at;
    measured.push(`annotation set on A -> change feed on B woke: ${latency.toFixed(0)} ms`);
    expect(latency).toBeLessThan(VISIBLE_WITHIN_MS);

    // A heartbeat is read from the database by every replica (it wakes no feed: agents send them all the time).
    const beat = await a.call('POST', `/api/v1/agents/${agent.id}/heartbeat`, { pak: agent.pak });
    expect(beat.status).toBe(204);
    const seen = await until(
      async () => {
        const r = await b.call('GET', `/api/v1/agents/${agent.id}`);
        return r.body.last_heartbeat ? r : null;
      },
      'B to show the heartbeat',
      5_000,
    );
    expect(seen.at - beat.at).toBeLessThan(VISIBLE_WITHIN_MS);
    expect(seen.body.status).toBe('ACTIVE');
  });
});
