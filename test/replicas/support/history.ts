/**
 * A seeded history (test/reliability's crash history: a large first commit, then a backlog that
 * changes, relabels, deletes, recreates, moves, breaks and fixes stacks) and the database an
 * uninterrupted run makes of it, to compare interrupted replica runs against.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../src/store/open-store.js';
import { createSyncer } from '../../../src/sync/syncer.js';
import { crashHistory } from '../../reliability/support/crash-history.js';
import { makeImportRepo } from '../../reliability/support/fast-import.js';
import { makeRng } from '../../reliability/support/prng.js';
import { snapshotPg, type DbSnapshot } from './pg-snapshot.js';

export interface History {
  repo: ReturnType<typeof makeImportRepo>;
  /** The first commit (synced as a snapshot). */
  snapshot: string;
  /** The backlog's commits, oldest first (first-parent line after the snapshot). */
  backlog: string[];
  tip: string;
  /** Point the tracked branch (main) at a commit. */
  setBranch(sha: string): void;
}

export async function makeHistory(seed: number, stacks: number, commits: number, prefix: string): Promise<History> {
  const repo = makeImportRepo(prefix);
  await crashHistory(makeRng(seed), stacks, commits).stream.run(repo.path);
  const snapshot = repo.git('rev-parse', 'refs/heads/snapshot');
  const tip = repo.git('rev-parse', 'refs/heads/tip');
  const backlog = repo.git('rev-list', '--first-parent', '--reverse', `${snapshot}..${tip}`).split('\n').filter(Boolean);
  return { repo, snapshot, backlog, tip, setBranch: (sha) => repo.git('update-ref', 'refs/heads/main', sha) };
}

/** The branch the reference run tracks: its own, so that it can run while replicas sync main. */
const REFERENCE_BRANCH = 'brokkr-reference';

/**
 * Sync `stops` one after the other into the database at `url` in this process, without leases
 * or interruptions, and return what it holds. It tracks a branch of its own (the branch name is
 * not part of the comparison), so replicas may sync `main` of the same repository meanwhile.
 */
export async function referenceRun(url: string, history: History, stops: string[]): Promise<{ snapshot: DbSnapshot; ms: number[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'brokkr-replicas-ref-'));
  const store = await openStore(url);
  const syncer = createSyncer({ store, repo: history.repo.path, branch: REFERENCE_BRANCH, dataDir, watch: false });
  const ms: number[] = [];
  try {
    for (const sha of stops) {
      history.repo.git('update-ref', `refs/heads/${REFERENCE_BRANCH}`, sha);
      const started = performance.now();
      const report = await syncer.syncOnce();
      ms.push(performance.now() - started);
      if (report.failure) throw new Error(`reference run failed at ${sha.slice(0, 7)}: ${report.failure.code} ${report.failure.message}`);
      if (report.cursor !== sha) throw new Error(`reference run stopped at ${String(report.cursor)}, not ${sha}`);
    }
  } finally {
    await syncer.stop();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { snapshot: await snapshotPg(url), ms };
}

/**
 * Deletion markers as the data model has them: a live stack has none; a deleted stack's last
 * object is its one marker, and all its other objects are soft-deleted. Returns the violations.
 */
export function markerProblems(snapshot: DbSnapshot): string[] {
  const problems: string[] = [];
  for (const s of snapshot.stacks) {
    const markers = s.objects.filter((o) => / marker/.test(o));
    if (!s.deleted) {
      if (markers.length) problems.push(`live stack ${s.name} has ${markers.length} deletion marker(s)`);
      if (s.objects.some((o) => / deleted/.test(o))) problems.push(`live stack ${s.name} has soft-deleted objects`);
      continue;
    }
    if (s.objects.length === 0) continue; // never had content: nothing to delete
    if (markers.length !== 1) problems.push(`deleted stack ${s.name} has ${markers.length} deletion markers`);
    else if (!/ marker/.test(s.objects.at(-1)!)) problems.push(`deleted stack ${s.name}: the marker is not its last object`);
    else if (/ deleted/.test(s.objects.at(-1)!)) problems.push(`deleted stack ${s.name}: its marker is soft-deleted`);
    if (s.objects.slice(0, -1).some((o) => !/ deleted/.test(o))) problems.push(`deleted stack ${s.name} kept an object that is not soft-deleted`);
  }
  return problems;
}
