/**
 * Exactly-once hand-overs (SPEC §3, §8), proven with real replicas: the replica syncing a backlog
 * is killed with SIGKILL at seeded random points — between commits or inside a commit's
 * transaction — then either restarted at once or left dead while the other replica takes over.
 * Afterwards the database must equal the one an uninterrupted run produced (the same objects per
 * stack, in the same sequence order, no duplicates, deletion markers right). Seeded; replay with
 * BROKKR_REPLICA_CRASH_SEED, more trials with BROKKR_REPLICA_CRASH_TRIALS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../e2e/cli-process.js';
import { intFromEnv, makeRng, seedFromEnv } from '../reliability/support/prng.js';
import { createTestDatabase } from '../support/postgres.js';
import { makeHistory, markerProblems, referenceRun, type History } from './support/history.js';
import { duplicateObjects, snapshotPg } from './support/pg-snapshot.js';
import { cleanupReplicaDirs, Observer, startReplica, waitForCursor, waitForHolder, type Replica } from './support/replicas.js';

const SEED = seedFromEnv('BROKKR_REPLICA_CRASH_SEED');
const TRIALS = Math.max(5, intFromEnv('BROKKR_REPLICA_CRASH_TRIALS', 5));
const COMMITS_PER_TRIAL = 16;
/** A short lease: each kill is followed by a takeover after at most this long (the default 6 s is tested in failover.test.ts). */
const LEASE_TTL_MS = 1_000;

const WRITING = `SELECT count(*) AS n FROM pg_stat_activity
  WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL AND query NOT LIKE '%INTO sync_leases%'`;

const state: { history?: History; observer?: Observer; live: Map<string, Replica>; dirs: string[] } = { live: new Map(), dirs: [] };

afterAll(async () => {
  await Promise.all([...state.live.values()].map((r) => r.stop()));
  await state.observer?.close();
  cleanupReplicaDirs();
  for (const dir of state.dirs) rmSync(dir, { recursive: true, force: true });
  state.history?.repo.cleanup();
});

describe('SIGKILL of the syncing replica during a backlog', () => {
  it(`${TRIALS} seeded kills, each followed by a restart or a takeover, end in the database an uninterrupted run makes`, async () => {
    console.log(`replica crash trials: seed ${SEED} (replay: BROKKR_REPLICA_CRASH_SEED=${SEED}), ${TRIALS} trials`);
    const rng = makeRng(SEED);
    const started = performance.now();
    const history = (state.history = await makeHistory(SEED, 200, TRIALS * COMMITS_PER_TRIAL, 'brokkr-replicas-crash-'));
    // The uninterrupted run, on its own database and branch, while the replicas start.
    const referenceDone = createTestDatabase('replicas_crash_ref').then((url) => referenceRun(url, history, [history.snapshot, history.tip]));
    referenceDone.catch(() => undefined); // awaited below; a failure must not surface as unhandled first

    const db = await createTestDatabase('replicas_crash');
    const observer = (state.observer = new Observer(db));
    // Each replica name keeps its data directory across restarts, as a restarted pod keeps its volume.
    const dataDirs = new Map<string, string>();
    const launch = async (name: string) => {
      if (!dataDirs.has(name)) {
        const dir = mkdtempSync(join(tmpdir(), `brokkr-replicas-crash-${name.toLowerCase()}-`));
        dataDirs.set(name, dir);
        state.dirs.push(dir);
      }
      const r = await startReplica({ name, db, repo: history.repo.path, dataDir: dataDirs.get(name), env: { BROKKR_LEASE_TTL_MS: String(LEASE_TTL_MS) } });
      state.live.set(name, r);
      return r;
    };
    history.setBranch(history.snapshot);
    await Promise.all([launch('A'), launch('B')]);
    await waitForCursor(observer, history.snapshot, 30_000);

    const position = async () => history.backlog.indexOf((await observer.cursor()) ?? '');
    // A victim is started again in the background (its start overlaps the takeover); it is
    // awaited before the next trial and at the end.
    let pending: Promise<Replica> | null = null;
    const liveNow = () => [...state.live.values()];
    const lines: string[] = [];
    let midway = 0;
    const setupMs = performance.now() - started;
    for (let trial = 0; trial < TRIALS; trial++) {
      const trialStart = performance.now();
      const first = trial * COMMITS_PER_TRIAL; // index of the segment's first commit
      const last = first + COMMITS_PER_TRIAL - 1;
      // Seeded: how many of the segment's commits are applied before the kill, whether it lands
      // inside a commit's transaction, and whether the victim comes back at once.
      const applied = rng.int(1, COMMITS_PER_TRIAL - 2);
      const inTransaction = rng.next() < 0.5;
      const restartAtOnce = rng.next() < 0.5;

      await pending;
      history.setBranch(history.backlog[last]!);
      await until(async () => (await position()) >= first + applied - 1, `trial ${trial}: ${applied} commits applied`, 20_000);
      if (inTransaction) {
        const end = performance.now() + 2_000;
        while (performance.now() < end && (await position()) < last) {
          if (Number((await observer.query<{ n: string }>(WRITING))[0]!.n) > 0) break;
        }
      }
      // The victim is whoever holds the lease at this moment (it may have changed hands since
      // the trial began: a renewal that came late under load lets the other replica in).
      const holder = await waitForHolder(observer, liveNow);
      await holder.kill();
      const killedAt = performance.now();
      state.live.delete(holder.name);
      const at = await position();
      const wasMidway = at >= first - 1 && at < last;
      if (wasMidway) midway += 1;

      if (restartAtOnce) pending = launch(holder.name);
      await waitForCursor(observer, history.backlog[last]!, 20_000);
      const doneAt = performance.now();
      const finisher = await waitForHolder(observer, liveNow);
      if (!restartAtOnce) pending = launch(holder.name);
      lines.push(
        `trial ${trial}: killed ${holder.name} after commit ${at - first + 1}/${COMMITS_PER_TRIAL}${inTransaction ? ' (inside a transaction)' : ''}` +
          `${wasMidway ? '' : ' (segment already done)'}; ${restartAtOnce ? 'restarted at once' : 'left dead'}; finished by ${finisher.name} ` +
          `${(doneAt - killedAt).toFixed(0)} ms after the kill (trial ${(performance.now() - trialStart).toFixed(0)} ms)`,
      );
    }
    await pending;
    const reference = await referenceDone;
    console.log(`replica crash trials (seed ${SEED}; set-up ${setupMs.toFixed(0)} ms):\n  ${lines.join('\n  ')}`);
    await waitForCursor(observer, history.tip);
    await until(async () => (await observer.query('SELECT last_error FROM sync_state'))[0]?.last_error === null, 'the recorded failure to clear', 15_000);

    expect(midway).toBeGreaterThan(0);
    expect(await duplicateObjects(db)).toEqual([]);
    const got = await snapshotPg(db);
    expect(markerProblems(got)).toEqual([]);
    expect(got.cursor).toBe(reference.snapshot.cursor);
    expect(got.counts).toEqual(reference.snapshot.counts);
    expect(got.syncErrors).toEqual(reference.snapshot.syncErrors);
    expect(got.order).toEqual(reference.snapshot.order);
    expect(got).toEqual(reference.snapshot);
  }, 150_000);
});
