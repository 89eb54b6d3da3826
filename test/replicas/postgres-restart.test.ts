/**
 * PostgreSQL restarted under load (SPEC §8; HTTP: a store that cannot reach its database answers
 * 503 with Retry-After, never another 5xx). A replica serves 20 polling agents while this file's
 * own PostgreSQL server is stopped for a few seconds and started again on the same data directory
 * and port: every answer is 200/201/204/304 or a 503 with Retry-After, the replica reconnects by
 * itself, a commit made afterwards syncs and reaches the agents, and no acknowledged event is lost.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../e2e/cli-process.js';
import { startPostgres, type PostgresProcess } from '../support/postgres-process.js';
import { makeRepoSync, type TestRepo } from '../helpers/git-repo.js';
import { call, cleanupReplicaDirs, createAgent, Observer, sleep, startReplica, waitForCursor, type Replica } from './support/replicas.js';

const AGENTS = 20;
/** Each agent sends at least this many requests, and goes on until the replica has served from the database again for a while (at most MAX). */
const MIN_REQUESTS_PER_AGENT = 100;
const MAX_REQUESTS_PER_AGENT = 600;
/** How long the agents keep going once the replica answers from the database again. */
const AFTER_RECOVERY_MS = 700;
const PAUSE_MS = 30;
/** How long PostgreSQL stays down. */
const OUTAGE_MS = 2_000;

let server: PostgresProcess;
let db: string;
let repo: TestRepo;
let replica: Replica;
/** A second replica: writes made through it after the restart must still reach `replica`. */
let second: Replica;
let observer: Observer;

function webStack(value: number): Record<string, string> {
  return {
    'apps/web/stack.yaml': 'name: web\nlabels: [web]\n',
    'apps/web/config.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  value: "${value}"\n`,
  };
}

beforeAll(async () => {
  // persistent: stop() must keep the data directory, so that start() is a restart.
  server = await startPostgres({ persistent: true });
  const admin = new pg.Client({ connectionString: `${server.baseUrl}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE brokkr_restart');
  await admin.end();
  db = `${server.baseUrl}/brokkr_restart`;
  observer = new Observer(db);

  repo = makeRepoSync('brokkr-replicas-pg-restart-');
  repo.writeAll(webStack(1));
  repo.commit('web 1');
  [replica, second] = await Promise.all([startReplica({ name: 'R', db, repo: repo.path }), startReplica({ name: 'S', db, repo: repo.path })]);
  await waitForCursor(observer, repo.head());
}, 60_000);

afterAll(async () => {
  await Promise.all([replica?.stop(), second?.stop()]);
  await observer?.close();
  await server?.close();
  cleanupReplicaDirs();
  repo?.cleanup();
});

interface Outcome {
  kind: string;
  status: number | 'network error';
  retryAfter: string | null;
  at: number;
  /** Set for an acknowledged event (201). */
  eventId?: string;
  error?: string;
}

describe('PostgreSQL restarted while agents poll', () => {
  it('answers stay 200/201/204/304 or 503 with Retry-After, the replica reconnects by itself, and nothing acknowledged is lost', async () => {
    const agents = await Promise.all(Array.from({ length: AGENTS }, (_, i) => createAgent(replica, `agent-${i}`, ['web'])));
    const initial = await Promise.all(
      agents.map((a) => call(replica.url, 'GET', `/api/v1/agents/${a.id}/target-state?mode=full`, { pak: a.pak })),
    );
    for (const r of initial) expect(r.status).toBe(200);
    const objectId = (initial[0]!.body as { id: string }[])[0]!.id;
    // An agent outside the load whose PAK `replica` has cached; it is rotated through `second` after the restart.
    const rotating = await createAgent(second, 'rotated-after-restart', ['web']);
    expect((await call(replica.url, 'GET', `/api/v1/agents/${rotating.id}`, { pak: rotating.pak })).status).toBe(200);

    const outcomes: Outcome[] = [];
    const record = async (kind: string, run: () => Promise<Response>, onOk?: (res: Response) => Promise<string | undefined>) => {
      try {
        const res = await run();
        const o: Outcome = { kind, status: res.status, retryAfter: res.headers.get('retry-after'), at: performance.now() };
        if (onOk && res.status < 300) o.eventId = await onOk(res);
        else await res.arrayBuffer();
        outcomes.push(o);
        return res;
      } catch (err) {
        outcomes.push({ kind, status: 'network error', retryAfter: null, at: performance.now(), error: String(err) });
        return null;
      }
    };

    // Each agent: a bounded loop of conditional polls, with a heartbeat and an event now and then.
    let recoveredAt = Infinity;
    const goOn = (n: number) => n < MIN_REQUESTS_PER_AGENT || (n < MAX_REQUESTS_PER_AGENT && performance.now() < recoveredAt + AFTER_RECOVERY_MS);
    const loops = agents.map(async (agent, i) => {
      const auth = { authorization: `Bearer ${agent.pak}` };
      let etag = initial[i]!.headers.get('etag')!;
      for (let n = 0; goOn(n); n++) {
        if (n % 10 === 3) {
          await record('heartbeat', () => fetch(`${replica.url}/api/v1/agents/${agent.id}/heartbeat`, { method: 'POST', headers: auth }));
        } else if (n % 10 === 7) {
          await record(
            'event',
            () =>
              fetch(`${replica.url}/api/v1/agents/${agent.id}/events`, {
                method: 'POST',
                headers: { ...auth, 'content-type': 'application/json' },
                body: JSON.stringify({ deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: `agent ${i} request ${n}` }),
              }),
            async (res) => ((await res.json()) as { id: string }).id,
          );
        } else {
          const res = await record('poll', () =>
            fetch(`${replica.url}/api/v1/agents/${agent.id}/target-state?mode=full`, { headers: { ...auth, 'if-none-match': etag } }),
          );
          if (res?.status === 200) etag = res.headers.get('etag') ?? etag;
        }
        await sleep(PAUSE_MS);
      }
    });

    // The outage, in the middle of the load: once events were acknowledged (a fixed 700 ms was not
    // enough on a loaded machine: no agent had reached its first event, and 'nothing acknowledged
    // before the outage is lost' had nothing to check).
    await until(() => outcomes.filter((o) => o.eventId).length >= AGENTS / 2, 'events acknowledged before the outage', 30_000);
    const stopAt = performance.now();
    await server.stop();
    const downAt = performance.now();
    await sleep(OUTAGE_MS);
    await server.start();
    const upAt = performance.now();
    // The replica reconnects by itself: an admin read goes through again. (A replica that died —
    // as one did when a connection was cut while being handed out — is said at once, with its log.)
    const back = await until(
      async () => {
        if (!replica.alive()) throw new Error(`replica R died during the restart:\n${replica.output().slice(-4000)}`);
        const r = await call(replica.url, 'GET', '/api/v1/agents').catch(() => null);
        return r?.status === 200 ? r : null;
      },
      'the replica to answer from the database again',
      15_000,
    );
    recoveredAt = back.at;
    // Both replicas' LISTEN connections are back (each has run its LISTEN, after which it drops
    // every cached PAK once: the reconnect's blanket invalidation is over before the PAK is cached
    // again below).
    await until(
      async () =>
        (
          await observer.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'brokkr-sync-listen' AND state = 'idle' AND query LIKE 'LISTEN%'`,
          )
        )[0]!.n >= 2,
      'both replicas to LISTEN again',
      15_000,
    );
    // `replica` trusts this PAK again (cached anew, for 60 s): the refusal below, within the waits'
    // 30 s, can only come from the rotation's NOTIFY reaching it over the restored connection.
    await until(
      async () => (await call(replica.url, 'GET', `/api/v1/agents/${rotating.id}`, { pak: rotating.pak }).catch(() => null))?.status === 200,
      'the replica to accept the PAK to be rotated after the restart',
      15_000,
    );
    // A PAK rotated through the other replica right after the restart stops working here too.
    const rotated = await until(
      async () => {
        const r = await call(second.url, 'POST', `/api/v1/agents/${rotating.id}/rotate-pak`).catch(() => null);
        return r?.status === 200 ? r : null;
      },
      'the other replica to rotate a PAK after the restart',
      15_000,
    );
    const refused = await until(
      async () => {
        const r = await call(replica.url, 'GET', `/api/v1/agents/${rotating.id}`, { pak: rotating.pak });
        return r.status === 401 ? r : null;
      },
      'the rotated PAK to be refused after the restart',
      // Below the 60 s a replica trusts a cached PAK (with the wait above, 30 s at most since it was
      // cached): a refusal within it is the invalidation's doing, not the cache running out.
      15_000,
    );
    await Promise.all(loops);

    const byStatus = new Map<string, number>();
    for (const o of outcomes) byStatus.set(`${o.kind} ${o.status}`, (byStatus.get(`${o.kind} ${o.status}`) ?? 0) + 1);
    const during = outcomes.filter((o) => o.at >= downAt && o.at <= upAt);
    console.log(
      `postgres restart: stop took ${(downAt - stopAt).toFixed(0)} ms, down ${(upAt - downAt).toFixed(0)} ms; ` +
        `the replica answered from the database again ${(back.at - upAt).toFixed(0)} ms after the server was up; ` +
        `a PAK rotated through the other replica ${(rotated.at - upAt).toFixed(0)} ms after that was refused here after ${(refused.at - rotated.at).toFixed(0)} ms; ` +
        `${outcomes.length} requests: ${[...byStatus].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}; ` +
        `while down: ${during.filter((o) => o.status === 503).length} x 503, ${during.filter((o) => o.status === 304 || o.status === 200).length} x 200/304`,
    );

    expect(outcomes.filter((o) => o.status === 'network error')).toEqual([]);
    const allowed = new Set<Outcome['status']>([200, 201, 204, 304, 503]);
    expect(outcomes.filter((o) => !allowed.has(o.status))).toEqual([]);
    expect(outcomes.filter((o) => o.status === 503 && !o.retryAfter)).toEqual([]);
    // The outage was real: writes could not be acknowledged while the server was down.
    expect(outcomes.some((o) => o.status === 503)).toBe(true);
    // And the replica came back: the last request of every agent kind succeeded after the restart.
    const after = outcomes.filter((o) => o.at > back.at);
    expect(after.some((o) => o.kind === 'event' && o.status === 201)).toBe(true);
    expect(after.some((o) => o.kind === 'heartbeat' && o.status === 204)).toBe(true);
    expect(after.some((o) => o.kind === 'poll' && (o.status === 200 || o.status === 304))).toBe(true);

    // Nothing acknowledged is lost: every event answered 201 (before the outage or after it) is stored.
    const acknowledged = outcomes.filter((o) => o.eventId).map((o) => o.eventId!);
    const beforeOutage = outcomes.filter((o) => o.eventId && o.at < stopAt).length;
    expect(beforeOutage).toBeGreaterThan(0);
    const stored = new Set((await observer.query<{ id: string }>('SELECT id::text AS id FROM agent_events')).map((r) => r.id));
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);

    // A commit made after the restart syncs and reaches an agent.
    repo.writeAll(webStack(2));
    const sha = repo.commit('web 2, after the restart');
    await waitForCursor(observer, sha, 20_000);
    const agent = agents[0]!;
    const seen = await until(
      async () => {
        const r = await call(replica.url, 'GET', `/api/v1/agents/${agent.id}/target-state?mode=full`, { pak: agent.pak });
        return r.status === 200 && (r.body as { yaml_content: string }[]).some((o) => o.yaml_content.includes('value: "2"')) ? r : null;
      },
      // Well below the 60 s a replica trusts a cached target state on PostgreSQL: only the NOTIFY
      // of the commit can deliver it within the bound (5 s was tight on a loaded machine).
      'the agent to receive the commit made after the restart',
      20_000,
    );
    expect(seen.status).toBe(200);
    // SPEC §8: a rotated PAK stops working on every replica — after a restart too (the LISTEN
    // connection is back and has invalidated what it may have missed). Asserted by `refused` above,
    // not by a clock; its latency is printed above and measured by bench/pak-revocation.mjs.
    expect(refused.status).toBe(401);
    expect(replica.alive()).toBe(true);
    expect(second.alive()).toBe(true);
  }, 90_000);
});
