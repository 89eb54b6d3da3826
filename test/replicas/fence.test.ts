/**
 * The fence (SPEC §3 and §8): a replica writes a commit only while it holds the repository's
 * lease, checked inside the commit's own transaction, and only from the cursor its plan was
 * computed against. In process: plans of a holder without the lease are refused and write nothing.
 * With real replicas: every database connection is cut in the middle of a large snapshot and of a
 * backlog, and the database still ends exactly as an uninterrupted run leaves it.
 */
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { LeaseLostError, type CommitPlan, type Store, type StoreChange } from '../../src/store/store.js';
import { until } from '../e2e/cli-process.js';
import { seedFromEnv } from '../reliability/support/prng.js';
import { createTestDatabase } from '../support/postgres.js';
import { makeHistory, markerProblems, referenceRun, type History } from './support/history.js';
import { duplicateObjects, snapshotPg } from './support/pg-snapshot.js';
import { cleanupReplicaDirs, Observer, sleep, startReplica, waitForCursor, type Replica } from './support/replicas.js';

const SEED = seedFromEnv('BROKKR_FENCE_SEED');
const open: { store?: Store; observer?: Observer; replicas: Replica[]; history?: History } = { replicas: [] };

afterAll(async () => {
  await Promise.all(open.replicas.map((r) => r.stop()));
  await open.store?.close();
  await open.observer?.close();
  cleanupReplicaDirs();
  open.history?.repo.cleanup();
});

const sha = (n: number) => n.toString(16).padStart(40, '0');

function plan(generatorId: string, leaseHolder: string, expectedCursor: string | null, n: number, stackId?: string): CommitPlan {
  const yaml = `kind: ConfigMap\nmetadata: {name: web}\ndata: {value: "${n}"}\n`;
  return {
    generatorId,
    leaseHolder,
    expectedCursor,
    commit: { sha: sha(n), author_name: 'Fence', author_email: 'fence@example.com', subject: `commit ${n}`, committed_at: new Date(1_700_000_000_000 + n * 60_000).toISOString() },
    upserts: [{ id: stackId, name: 'web', path: 'apps/web', description: null, labels: ['web'], annotations: {}, content: { yaml, checksum: createHash('sha256').update(yaml).digest('hex') } }],
    deletes: [],
    errors: [],
  };
}

describe('the fence inside applyCommit (in process)', () => {
  it('a plan applied for a holder that does not hold the lease is refused and writes nothing', async () => {
    const url = await createTestDatabase('replicas_fence_unit');
    const store = (open.store = await openStore(url));
    const observer = new Observer(url);
    const rows = async () => ({
      stacks: await observer.count('stacks'),
      objects: await observer.count('deployment_objects'),
      provenance: await observer.count('object_provenance'),
      labels: await observer.count('stack_labels'),
      cursor: await observer.cursor(),
    });
    const changes: StoreChange[] = [];
    store.onChange((c) => changes.push(c));
    try {
      const { id: generator } = await store.ensureGenerator('git:fence', 'fence test');
      await store.saveSyncTarget(generator, { repo: 'fence', branch: 'main', root: '' });
      const empty = await rows();
      changes.length = 0;

      // Another replica holds the lease.
      expect(await store.acquireSyncLease(generator, 'replica-a', 60_000)).toBe(true);
      expect(await store.acquireSyncLease(generator, 'replica-b', 60_000)).toBe(false);
      await expect(store.applyCommit(plan(generator, 'replica-b', null, 1))).rejects.toBeInstanceOf(LeaseLostError);
      expect(await rows()).toEqual(empty);

      // Nobody holds it (released).
      await store.releaseSyncLease(generator, 'replica-a');
      await expect(store.applyCommit(plan(generator, 'replica-a', null, 1))).rejects.toBeInstanceOf(LeaseLostError);
      expect(await rows()).toEqual(empty);

      // Its own lease ran out (by the database's clock).
      expect(await store.acquireSyncLease(generator, 'replica-a', 1)).toBe(true);
      await sleep(20);
      await expect(store.applyCommit(plan(generator, 'replica-a', null, 1))).rejects.toBeInstanceOf(LeaseLostError);
      expect(await rows()).toEqual(empty);
      // Refused plans announce nothing to anybody.
      expect(changes.filter((c) => c.kind !== 'sync')).toEqual([]);

      // Held: the same plan goes through.
      expect(await store.acquireSyncLease(generator, 'replica-a', 60_000)).toBe(true);
      const applied = await store.applyCommit(plan(generator, 'replica-a', null, 1));
      expect(applied.created).toHaveLength(1);
      const stackId = applied.created[0]!.stack_id;
      const one = await rows();
      expect(one).toMatchObject({ stacks: 1, objects: 1, provenance: 1, cursor: sha(1) });

      // A takes too long: its lease runs out and B takes the repository over. A's next plan,
      // computed from the very cursor the database still has, is refused; B's is applied.
      expect(await store.acquireSyncLease(generator, 'replica-a', 1)).toBe(true);
      await sleep(20);
      expect(await store.acquireSyncLease(generator, 'replica-b', 60_000)).toBe(true);
      await expect(store.applyCommit(plan(generator, 'replica-a', sha(1), 2, stackId))).rejects.toBeInstanceOf(LeaseLostError);
      expect(await rows()).toEqual(one);
      const byB = await store.applyCommit(plan(generator, 'replica-b', sha(1), 2, stackId));
      expect(byB.created).toHaveLength(1);
      expect(await rows()).toMatchObject({ stacks: 1, objects: 2, provenance: 2, cursor: sha(2) });
      // And once A has the lease back, its stale plan is still refused, by the cursor this time.
      await store.releaseSyncLease(generator, 'replica-b');
      expect(await store.acquireSyncLease(generator, 'replica-a', 60_000)).toBe(true);
      await expect(store.applyCommit(plan(generator, 'replica-a', sha(1), 3, stackId))).rejects.toThrow(/cursor/i);
      expect(await rows()).toMatchObject({ objects: 2, cursor: sha(2) });
    } finally {
      await observer.close();
    }
  });
});

/** A transaction of a replica that has written something and not committed yet (lease renewals aside). */
const WRITING = `SELECT count(*) AS n FROM pg_stat_activity
  WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL AND query NOT LIKE '%INTO sync_leases%'`;

/** Poll back to back until a replica is inside a write transaction and `more()` still holds; then cut every connection. */
async function cutMidTransaction(observer: Observer, more: () => Promise<boolean>, deadlineMs: number): Promise<boolean> {
  const end = performance.now() + deadlineMs;
  while (performance.now() < end) {
    if (!(await more())) return false;
    const [row] = await observer.query<{ n: string }>(WRITING);
    if (Number(row!.n) > 0) {
      await observer.cutConnections();
      return true;
    }
  }
  return false;
}

describe('connections cut in the middle of a pass (real replicas)', () => {
  it('every connection cut mid-snapshot and mid-backlog: the database ends as an uninterrupted run leaves it', async () => {
    console.log(`fence: seed ${SEED} (replay: BROKKR_FENCE_SEED=${SEED})`);
    const history = (open.history = await makeHistory(SEED, 400, 60, 'brokkr-replicas-fence-'));
    // The uninterrupted run, on its own database and branch, while the replicas start.
    const referenceDone = createTestDatabase('replicas_fence_ref').then((url) => referenceRun(url, history, [history.snapshot, history.tip]));
    referenceDone.catch(() => undefined); // awaited below; a failure must not surface as unhandled first

    const db = await createTestDatabase('replicas_fence');
    const observer = (open.observer = new Observer(db));
    history.setBranch(history.snapshot);
    const env = { BROKKR_LEASE_TTL_MS: '2000' };
    open.replicas.push(...(await Promise.all(['A', 'B'].map((name) => startReplica({ name, db, repo: history.repo.path, env })))));

    const dump = () => open.replicas.map((r) => `--- ${r.name} (${r.replicaId}):\n${r.output().split('\n').slice(-40).join('\n')}`).join('\n');
    const cuts: string[] = [];
    try {
      // The first sync is one large transaction: cut it.
      if (await cutMidTransaction(observer, async () => (await observer.cursor()) === null, 30_000)) cuts.push('snapshot');
      await waitForCursor(observer, history.snapshot, 30_000);

      // The backlog: cut at a third and at two thirds, each time inside a commit's transaction. (Each
      // failed pass lengthens the syncer's retry back-off, so more cuts mostly cost waiting.)
      history.setBranch(history.tip);
      const position = async () => history.backlog.indexOf((await observer.cursor()) ?? '');
      for (const fraction of [1 / 3, 2 / 3]) {
        const at = Math.floor(history.backlog.length * fraction);
        await until(async () => (await position()) >= at - 1, `the backlog to reach commit ${at}`, 30_000);
        if (await cutMidTransaction(observer, async () => (await observer.cursor()) !== history.tip, 10_000)) cuts.push(`backlog ~${at}/${history.backlog.length}`);
      }
      await waitForCursor(observer, history.tip, 30_000);
      await until(async () => (await observer.query('SELECT last_error FROM sync_state'))[0]?.last_error === null, 'the recorded sync failure to clear', 15_000);
    } catch (err) {
      console.log(dump());
      throw err;
    }
    const reference = await referenceDone;
    const holder = await observer.leaseHolder();
    console.log(
      `fence: connections cut ${cuts.length} times (${cuts.join(', ')}); finished by ${open.replicas.find((r) => r.replicaId === holder)?.name ?? holder}; ` +
        `sync failures logged: ${open.replicas.map((r) => `${r.name} ${(r.output().match(/sync failed/g) ?? []).length}`).join(', ')}`,
    );
    expect(cuts.length).toBeGreaterThanOrEqual(2);
    expect(cuts.some((c) => c.startsWith('backlog'))).toBe(true);

    expect(await duplicateObjects(db)).toEqual([]);
    const got = await snapshotPg(db);
    expect(markerProblems(got)).toEqual([]);
    expect(got.cursor).toBe(reference.snapshot.cursor);
    expect(got.counts).toEqual(reference.snapshot.counts);
    expect(got.order).toEqual(reference.snapshot.order);
    expect(got).toEqual(reference.snapshot);
    for (const r of open.replicas) expect(r.alive()).toBe(true);
  }, 120_000);
});
