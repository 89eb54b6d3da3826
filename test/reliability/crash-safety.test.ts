/**
 * Crash safety, proven (SPEC §3): the built CLI is killed with SIGKILL at random points of a large
 * first snapshot and of a backlog of commits, restarted until it finishes, and the database must
 * equal the one an uninterrupted run produced. Seeded; the seed is printed and can be replayed
 * with BROKKR_CRASH_SEED. The long variant is `node scripts/crash-soak.mjs --trials N`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll, runCli, startCli, until, type Run } from './support/cli.js';
import { crashHistory } from './support/crash-history.js';
import { dbHealth, readCursor, snapshotDb, type DbSnapshot } from './support/db-snapshot.js';
import { makeImportRepo } from './support/fast-import.js';
import { intFromEnv, makeRng, seedFromEnv, type Rng } from './support/prng.js';

const SEED = seedFromEnv('BROKKR_CRASH_SEED');
const TRIALS = intFromEnv('BROKKR_CRASH_TRIALS', 2);
const SERVE_TRIALS = intFromEnv('BROKKR_CRASH_SERVE_TRIALS', 1);
const STACKS = intFromEnv('BROKKR_CRASH_STACKS', 2000);
const BACKLOG = intFromEnv('BROKKR_CRASH_COMMITS', 60);
/** Kills per phase before the process is left to finish (bounds the loop). */
const MAX_KILLS = intFromEnv('BROKKR_CRASH_MAX_KILLS', 6);
const PER_TRIAL_MS = intFromEnv('BROKKR_CRASH_TRIAL_TIMEOUT_MS', 60_000);

let repo: ReturnType<typeof makeImportRepo>;
let work: string;
let snapshotSha: string;
let tipSha: string;
let reference: DbSnapshot;
const durations = { snapshot: 0, backlog: 0 };

afterEach(killAll);
afterAll(() => {
  repo?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

const dbFile = (name: string) => join(work, name, 'brokkr.db');
const setBranch = (sha: string) => repo.git('update-ref', 'refs/heads/main', sha);
const syncArgs = (db: string) => ['sync', '--repo', repo.path, '--branch', 'main', '--db', db];

function mustSucceed(run: Run, what: string): void {
  if (run.code !== 0) throw new Error(`${what} exited ${run.code ?? run.signal}\n--- stdout:\n${run.stdout.slice(-2000)}\n--- stderr:\n${run.stderr.slice(-2000)}`);
}

beforeAll(async () => {
  console.log(
    `crash safety: seed ${SEED} (replay: BROKKR_CRASH_SEED=${SEED}), ${TRIALS} sync + ${SERVE_TRIALS} serve trials, ${STACKS} stacks, ${BACKLOG} backlog commits`,
  );
  work = mkdtempSync(join(tmpdir(), 'brokkr-crash-'));
  repo = makeImportRepo('brokkr-crash-repo-');
  const history = crashHistory(makeRng(SEED), STACKS, BACKLOG);
  await history.stream.run(repo.path);
  snapshotSha = repo.git('rev-parse', 'refs/heads/snapshot');
  tipSha = repo.git('rev-parse', 'refs/heads/tip');

  // The reference: one uninterrupted run per phase.
  const db = dbFile('reference');
  setBranch(snapshotSha);
  const first = await runCli(syncArgs(db));
  mustSucceed(first, 'reference snapshot');
  durations.snapshot = first.ms;
  setBranch(tipSha);
  const second = await runCli(syncArgs(db));
  mustSucceed(second, 'reference backlog');
  durations.backlog = second.ms;
  reference = snapshotDb(db);
  console.log(
    `crash safety: reference run ${Math.round(durations.snapshot)} ms snapshot + ${Math.round(durations.backlog)} ms backlog; ` +
      `${reference.counts.stacks} stack rows, ${reference.counts.deployment_objects} objects, ${reference.counts.sync_errors} recorded errors`,
  );
}, 120_000 + STACKS * 20 + BACKLOG * 500);

interface PhaseResult {
  kills: number;
  /** Kills after which the cursor had moved past the phase's start but not reached its end. */
  midway: number;
  /** Kills that landed after the phase's last commit was durable (during shutdown). */
  afterDone: number;
}

/**
 * Start `args` again and again, SIGKILLing each run at a random moment, until a run completes.
 * `done` says whether a run that was not killed finished the phase (sync exits; serve is
 * stopped with SIGTERM once the cursor reached `target`).
 */
async function crashUntilDone(opts: {
  rng: Rng;
  db: string;
  args: string[];
  target: string;
  windowMs: number;
  daemon: boolean;
  /** The first run of the phase is killed right after the cursor first moves (a certain mid-backlog kill). */
  killOnFirstProgress?: boolean;
}): Promise<PhaseResult> {
  const start = readCursor(opts.db);
  const result: PhaseResult = { kills: 0, midway: 0, afterDone: 0 };
  for (let attempt = 0; ; attempt++) {
    const child = startCli(opts.args);
    const killing = result.kills < MAX_KILLS;
    let timer: NodeJS.Timeout | undefined;
    if (killing && opts.killOnFirstProgress && attempt === 0) {
      void until(() => child.process.exitCode !== null || readCursor(opts.db) !== start, 'the cursor to move', PER_TRIAL_MS, 5).then(
        () => child.kill('SIGKILL'),
        () => undefined,
      );
    } else if (killing) {
      timer = setTimeout(() => void child.kill('SIGKILL'), Math.floor(opts.rng.next() * opts.windowMs));
    }
    if (opts.daemon) {
      // The daemon never exits by itself: once the cursor reached the target, stop it cleanly
      // (after it printed its banner: its SIGTERM handler is installed from then on).
      const exited = () => child.process.exitCode !== null || child.process.signalCode !== null;
      const arrived = () => child.stdout().includes('brokkr-sync serving') && readCursor(opts.db) === opts.target;
      void until(() => exited() || arrived(), 'the daemon to reach the target', PER_TRIAL_MS).then(
        () => {
          if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGTERM');
        },
        () => void child.kill('SIGKILL'),
      );
    }
    const run = await child.exited;
    clearTimeout(timer);
    if (run.signal === 'SIGKILL') {
      result.kills += 1;
      const cursor = readCursor(opts.db);
      if (cursor === opts.target) result.afterDone += 1;
      else if (cursor !== start) result.midway += 1;
      continue;
    }
    mustSucceed(run, `${opts.args[0]} (attempt ${attempt + 1})`);
    if (readCursor(opts.db) === opts.target) return result;
    throw new Error(`${opts.args[0]} finished without reaching ${opts.target.slice(0, 7)}:\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
  }
}

function expectSameAsReference(db: string): void {
  const health = dbHealth(db);
  expect(health.integrity).toEqual(['ok']);
  expect(health.foreignKeyViolations).toBe(0);
  const got = snapshotDb(db);
  // Compare piecewise first for a readable failure, then everything.
  expect(got.cursor).toBe(reference.cursor);
  expect(got.counts).toEqual(reference.counts);
  expect(got.syncErrors).toEqual(reference.syncErrors);
  expect(got.order).toEqual(reference.order);
  expect(got).toEqual(reference);
}

async function trial(kind: 'sync' | 'serve', n: number): Promise<string> {
  const rng = makeRng((SEED + n * 0x9e3779b9) >>> 0);
  const db = dbFile(`${kind}-${n}`);
  const args =
    kind === 'sync'
      ? syncArgs(db)
      : ['serve', '--repo', repo.path, '--branch', 'main', '--db', db, '--port', '0', '--interval', '1', '--log-level', 'warn'];
  const daemon = kind === 'serve';
  // A serve process pays for loading the HTTP server too; give its window that margin.
  const margin = daemon ? 1.5 : 1.2;
  setBranch(snapshotSha);
  const snap = await crashUntilDone({ rng, db, args, target: snapshotSha, windowMs: durations.snapshot * margin, daemon });
  setBranch(tipSha);
  const backlog = await crashUntilDone({ rng, db, args, target: tipSha, windowMs: durations.backlog * margin, daemon, killOnFirstProgress: true });
  expectSameAsReference(db);
  rmSync(join(work, `${kind}-${n}`), { recursive: true, force: true });
  return `${kind} trial ${n}: snapshot ${snap.kills} kills (${snap.afterDone} after it was durable), backlog ${backlog.kills} kills (${backlog.midway} mid-backlog)`;
}

describe('crash safety under SIGKILL (SQLite: reads the file directly; PostgreSQL is test/replicas/kill-during-backlog)', () => {
  it(
    '`sync` killed at random points of a snapshot and a backlog, restarted until done, leaves the database an uninterrupted run leaves',
    async () => {
      let midway = 0;
      for (let n = 0; n < TRIALS; n++) {
        const line = await trial('sync', n);
        console.log(`crash safety (seed ${SEED}): ${line}`);
        midway += Number(/(\d+) mid-backlog/.exec(line)![1]);
      }
      expect(midway).toBeGreaterThan(0);
    },
    TRIALS * PER_TRIAL_MS,
  );

  it(
    'the `serve` daemon killed the same way ends in the same database',
    async () => {
      for (let n = 0; n < SERVE_TRIALS; n++) {
        const line = await trial('serve', TRIALS + n);
        console.log(`crash safety (seed ${SEED}): ${line}`);
      }
    },
    SERVE_TRIALS * PER_TRIAL_MS,
  );
});
