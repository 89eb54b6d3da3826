/**
 * The syncer: runs sync passes one at a time (requests coalesce), keeps the in-memory view
 * between them, watches a local repository's refs, polls on an interval, and turns every failure
 * into a logged, recorded value — never an exception out of a timer.
 */
import { resolve as resolvePath } from 'node:path';
import pino, { type Logger } from 'pino';
import { isRemoteUrl, openGitSource, redactUrl, watchRefs, type RefWatcher } from '../git/index.js';
import type { GitSource } from '../git/git-source.js';
import { DEFAULT_MAX_CONTENT_BYTES, fileLine, normalizeRoot } from '../manifest/index.js';
import type { Store } from '../store/store.js';
import type { SyncState } from '../store/records.js';
import { classifyFailure, failureFromError } from './failure-class.js';
import { gitCall } from './git-reads.js';
import type { SyncEnv } from './sync-env.js';
import { runSyncPass } from './sync-pass.js';
import { SyncFailureError, type CommitReport, type SyncFailure, type SyncFailureCode, type SyncProgress, type SyncReport } from './sync-report.js';
import { loadView, type SyncView } from './sync-view.js';

export interface SyncerOptions {
  store: Store;
  /** A local path or a URL (file://, https://, ssh://, git@host:path). */
  repo: string;
  /** Default: the repository's current branch. */
  branch?: string;
  root?: string;
  /** Where remote clones live (next to the database). */
  dataDir: string;
  /** Poll interval; default 5 s for a local repository (a fallback to the ref watcher), 30 s for a remote. */
  intervalSeconds?: number;
  maxContentBytes?: number;
  logger?: Logger;
  /** Watch and poll after start() (default true). */
  watch?: boolean;
  /** Progress of a long snapshot or backlog (for a TTY progress line). */
  onProgress?: (progress: SyncProgress) => void;
  /** Pass durations and counts (the HTTP layer's SyncMetrics fits). */
  metrics?: SyncMetricsSink;
  /** Use this GitSource instead of opening `repo` (tests wrap one to observe reads). */
  git?: GitSource;
  /**
   * Replicas on one database: sync only while holding the repository's lease in the database
   * (renewed every ttlMs / 3; another replica takes over at most ttlMs after this one stops
   * renewing). Every commit this syncer applies is fenced on the lease. Absent: always sync.
   */
  lease?: {
    holder: string;
    ttlMs?: number;
    /** Consulted before taking a lease this replica does not hold (false: leave it to a replica with fewer). */
    mayTake?: () => boolean;
  };
  /** The generator's name (a repository's name when the daemon syncs many); default `git:<repository>`. */
  generatorName?: string;
  /** An SSH private key for clone and fetch (GIT_SSH_COMMAND with -i); the key never leaves the file. */
  sshKeyFile?: string;
  /** HTTPS user and token for clone and fetch, handed to git through its environment only. */
  httpAuth?: { username: string; password: string };
  /** Runs every clone and fetch: a daemon syncing many repositories bounds how many run at once. */
  fetchGate?: <T>(fetch: () => Promise<T>) => Promise<T>;
}

/** After repeated failures, interval passes back off: interval × 2^(failures-1), at most this long. */
export const MAX_FAILURE_BACKOFF_MS = 5 * 60_000;

/** Default sync lease: renewed every 2 s, so a dead replica's repository is taken over within ~8 s. */
export const DEFAULT_LEASE_TTL_MS = 6_000;

/** Where pass statistics go (structurally the HTTP layer's SyncMetrics). */
export interface SyncMetricsSink {
  observeSync(seconds: number, counts: { commits: number; objects: number; errors: number }): void;
  syncFailed(): void;
}

export interface Syncer {
  /** The generator row of this repository (known after the first pass started). */
  generatorId(): string;
  /** Run one pass now (or right after the one in flight) and report what it did. */
  syncOnce(): Promise<SyncReport>;
  /** First pass, then watch + interval. Never throws for git or sync failures. */
  start(): Promise<void>;
  /** Ask for a pass soon (webhook, ref change); coalesces with one already queued. */
  requestSync(reason: string): void;
  /** Stop watching; waits for the commit in flight, not the rest of a backlog. */
  stop(): Promise<void>;
  /** True once a pass succeeded, or the database holds a previously synced state to serve. */
  isReady(): boolean;
  /** With a lease: whether this replica holds it now (always true without one). */
  holdsLease(): boolean;
  /**
   * Hand the lease to another replica (fair sharing): released now if held and no pass is
   * running, and not taken again for two lease periods. True when it was given up.
   */
  yieldLease(): Promise<boolean>;
}

export function createSyncer(opts: SyncerOptions): Syncer {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const remote = isRemoteUrl(opts.repo);
  const root = normalizeRoot(opts.root);
  const maxContentBytes = opts.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;
  const intervalSeconds = opts.intervalSeconds ?? (remote ? 30 : 5);

  let git: GitSource | null = opts.git ?? null;
  // Resolved once: if the tracked branch followed later checkouts in a local repository, a
  // checkout would look like a history rewrite and delete stacks.
  let branch: string | null = opts.branch ?? null;
  let generator: string | null = null;
  let view: SyncView | null = null;
  let ready = false;
  let stopping = false;
  let lastFailure: string | null = null;
  /** The stalled failure already reported (until a pass succeeds or the failure changes class). */
  let reportedStall: SyncFailureCode | null = null;
  /** Consecutive failed passes, and until when interval passes wait because of them. */
  let failures = 0;
  let retryAt = 0;
  let failureCleared = false;
  let current: Promise<SyncReport> | null = null;
  let queued: Promise<SyncReport> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let leaseTimer: NodeJS.Timeout | null = null;
  let watcher: RefWatcher | null = null;
  const leaseTtl = opts.lease?.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  const gate: <T>(work: () => Promise<T>) => Promise<T> = opts.fetchGate ?? ((work) => work());
  let leaseHeld = !opts.lease;
  /** When this replica last asked for the lease and got it (its clock, taken before asking). */
  let renewedAt = Number.NEGATIVE_INFINITY;
  /** After yielding, this replica leaves the lease alone until then, so another one takes it. */
  let noTakeUntil = 0;

  /** Take or renew the lease; on a change of hands, say so (and start from the database's state). */
  async function holdLease(generatorId: string): Promise<boolean> {
    if (!opts.lease) return true;
    if (!leaseHeld && (Date.now() < noTakeUntil || opts.lease.mayTake?.() === false)) return false;
    let held: boolean;
    const asked = Date.now();
    try {
      held = await opts.store.acquireSyncLease(generatorId, opts.lease.holder, leaseTtl);
      if (held) renewedAt = asked;
    } catch (err) {
      held = false;
      if (leaseHeld) logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'cannot renew the sync lease; syncing stops until it is back');
    }
    if (held && !leaseHeld) {
      logger.info({ holder: opts.lease.holder }, 'holding the sync lease: this replica syncs the repository');
      view = null; // another replica may have synced meanwhile: start from the database
    } else if (!held && leaseHeld) logger.info('another replica holds the sync lease: standing by');
    leaseHeld = held;
    return held;
  }

  /** Open the repository and register the generator (once; retried while it fails). */
  async function init(): Promise<{ git: GitSource; generatorId: string }> {
    // A remote's generator is registered before the first clone so that an unreachable remote
    // is a recorded failure from the start; so is a declared repository's (its row exists: a
    // missing path is then a stalled condition on it). A `--repo` path is checked first (a typo adds no row).
    if (remote || opts.generatorName) await ensureGenerator(redactUrl(opts.repo));
    const source =
      git ??
      (await gitCall(
        // A clone is the heaviest fetch of all: it takes a slot of the gate too.
        async () => gate(() => openGitSource({ repo: remote ? opts.repo : resolvePath(opts.repo), dataDir: opts.dataDir, logger, sshKeyFile: opts.sshKeyFile, httpAuth: opts.httpAuth })),
        `open repository ${redactUrl(opts.repo)}`,
      ));
    git = source;
    return { git: source, generatorId: await ensureGenerator(source.displayName) };
  }

  async function ensureGenerator(displayName: string): Promise<string> {
    if (!generator) {
      const name = opts.generatorName ?? `git:${displayName}`;
      generator = (await opts.store.ensureGenerator(name, `Git repository ${displayName}`)).id;
    }
    return generator;
  }

  async function runPass(): Promise<SyncReport> {
    const started = Date.now();
    const report: SyncReport = { branch: null, cursor: null, commits: [], warnings: [], invalid_stacks: [], duration_ms: 0 };
    if (stopping) return report;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          if ((await passBody(report)) === 'standby') {
            report.standby = true;
            if (!ready && generator) ready = (await opts.store.getSyncState(generator))?.cursor_commit != null;
            report.duration_ms = Date.now() - started;
            return report;
          }
          break;
        } catch (err) {
          // Another writer (a `brokkr-sync sync` run on the same file) moved the cursor: reload
          // the stored state and go again from there.
          if (!(err instanceof SyncFailureError && (err.code === 'CURSOR_MOVED' || err.code === 'LEASE_LOST')) || attempt >= 3) throw err;
          view = null;
        }
      }
      ready = true;
      opts.metrics?.observeSync((Date.now() - started) / 1000, {
        commits: report.commits.length,
        objects: report.commits.reduce((n, c) => n + c.created.length + c.updated.filter((u) => u.object).length, 0),
        errors: report.commits.reduce((n, c) => n + c.errors.length, 0),
      });
      failures = 0;
      retryAt = 0;
      const recovered = lastFailure !== null;
      if (recovered) logger.info({ repo: git?.displayName }, 'sync recovered');
      lastFailure = null;
      reportedStall = null;
      // An idle pass writes nothing (a write waits for any lock another process holds, and
      // better-sqlite3 waits synchronously): clear the recorded failure only when there may be
      // one — after a failure, or once per process for one an earlier run left behind.
      if (recovered || !failureCleared) {
        await opts.store.setSyncFailure(generator!, null);
        failureCleared = true;
      }
    } catch (err) {
      view = null; // reload from the database next time: never trust memory after a failure
      report.failure = failureFromError(err);
      failures += 1;
      // A repository that keeps failing is retried less and less often, so it costs the daemon
      // little; a webhook, a ref change or a manual sync still tries at once. A stalled one is
      // retried too: its fix (a commit restoring the root, a pushed branch) needs no restart.
      retryAt = Date.now() + Math.min(intervalSeconds * 1000 * 2 ** (failures - 1), MAX_FAILURE_BACKOFF_MS);
      opts.metrics?.syncFailed();
      await recordFailure(report.failure, err);
    }
    report.invalid_stacks = view ? [...view.invalidDirs].sort() : [];
    report.duration_ms = Date.now() - started;
    return report;
  }

  async function passBody(report: SyncReport): Promise<'synced' | 'standby'> {
    const { git, generatorId } = await init();
    // A lease renewed less than a renewal interval ago has at least two thirds of its time left: a
    // pass then starts without asking again (a round trip of every commit's latency), and its
    // commits are fenced on the lease in their own transactions anyway.
    const fresh = leaseHeld && opts.lease !== undefined && Date.now() - renewedAt < leaseTtl / 3;
    if (!fresh && !(await holdLease(generatorId))) return 'standby';
    await gitCall(() => gate(() => git.fetch()), `fetch ${git.displayName}`);
    branch ??= await gitCall(() => git.currentBranch(), 'find the current branch');
    report.branch = branch;
    const state = await opts.store.getSyncState(generatorId);
    const env: SyncEnv = { git, store: opts.store, generatorId, leaseHolder: opts.lease?.holder, root, maxContentBytes, logger, onProgress: opts.onProgress };
    if (!view || view.cursor !== (state?.cursor_commit ?? null)) view = await loadView(env, state?.cursor_commit ?? null);
    report.cursor = view.cursor;
    const previousRoot = state && state.cursor_commit !== null ? normalizeRoot(state.root) : null;
    const rootChanged = previousRoot !== null && previousRoot !== root;
    // Until a root change has been applied, the stored root must keep describing the stored paths.
    await saveTarget(generatorId, state, { repo: git.displayName, branch, root: rootChanged ? state!.root : root });

    const pass = await runSyncPass(env, {
      branch,
      view,
      previousRoot,
      shouldStop: () => stopping,
      onCommit: (commit) => {
        report.commits.push(commit);
        report.cursor = commit.commit.sha;
        afterCommit(commit);
      },
    });
    report.warnings.push(...pass.work.warnings);
    report.cursor = view.cursor;
    if (rootChanged && pass.complete) await saveTarget(generatorId, null, { repo: git.displayName, branch, root });
    return 'synced';
  }

  async function saveTarget(generatorId: string, state: SyncState | null, target: { repo: string; branch: string; root: string }) {
    if (state && state.repo === target.repo && state.branch === target.branch && state.root === target.root) return;
    await opts.store.saveSyncTarget(generatorId, target);
  }

  function afterCommit(commit: CommitReport): void {
    logger.info(
      {
        commit: commit.commit.sha.slice(0, 7),
        mode: commit.mode,
        created: commit.created.length,
        updated: commit.updated.length,
        deleted: commit.deleted.length,
        invalid: new Set(commit.errors.map((e) => e.stack_path)).size,
        read: commit.stacks_read,
      },
      `synced ${commit.commit.sha.slice(0, 7)} ${commit.commit.subject}`,
    );
    for (const e of commit.errors) {
      const where = e.file === null ? '' : `${fileLine(e.file, e.line)}: `;
      logger.warn({ stack: e.stack_name ?? e.stack_path, commit: e.commit_sha.slice(0, 7) }, `${where}${e.message}`);
    }
  }

  async function recordFailure(failure: SyncFailure, err: unknown): Promise<void> {
    // One line per distinct failure: a remote that is down for an hour must not flood the log. A
    // stalled failure is told once, with what to do, however its wording varies between passes.
    const { condition, action } = classifyFailure(failure.code);
    const repeated = condition === 'stalled' ? reportedStall === failure.code : failure.message === lastFailure;
    reportedStall = condition === 'stalled' ? failure.code : null;
    if (!repeated) {
      const fields = { code: failure.code, condition, action };
      if (failure.code === 'INTERNAL') logger.error({ err, ...fields }, `sync failed: ${failure.message}`);
      else if (condition === 'stalled') logger.error(fields, `sync failed: ${failure.message}; stalled until someone acts: ${action} (serving the last synced state)`);
      else logger.error(fields, `sync failed: ${failure.message}; serving the last synced state, retrying with back-off`);
    } else logger.debug({ code: failure.code, condition }, `sync still failing: ${failure.message}`);
    lastFailure = failure.message;
    if (generator) {
      try {
        await opts.store.setSyncFailure(generator, `${failure.code}: ${failure.message}`);
        if (!ready) ready = (await opts.store.getSyncState(generator))?.cursor_commit != null;
      } catch (storeErr) {
        // Same rule as above: a full disk fails this on every pass; say it once per distinct failure.
        if (repeated) logger.debug({ err: String(storeErr) }, 'still cannot record the sync failure in the database');
        else logger.error({ err: storeErr instanceof Error ? storeErr.message : String(storeErr) }, 'cannot record the sync failure in the database');
      }
    }
  }

  /** Serialize passes: one runs; any number of requests during it share one follow-up pass. */
  function schedule(): Promise<SyncReport> {
    if (!current) {
      current = runPass().finally(() => {
        current = null;
      });
      return current;
    }
    if (!queued) {
      queued = current.catch(() => undefined).then(() => {
        queued = null;
        return schedule();
      });
    }
    return queued;
  }

  const syncer: Syncer = {
    generatorId() {
      if (!generator) throw new Error('the syncer has not registered its generator yet (call start() or syncOnce() first)');
      return generator;
    },
    syncOnce: schedule,
    async start() {
      await schedule();
      if (opts.watch === false || stopping) return;
      if (!remote) {
        try {
          watcher = watchRefs(resolvePath(opts.repo), branch ?? 'HEAD', () => syncer.requestSync('ref change'), {
            onError: (err) => logger.warn({ err: err.message }, 'ref watcher error; the poll interval remains'),
          });
          await watcher.ready;
        } catch (err) {
          logger.warn({ err: String(err) }, 'cannot watch the repository refs; relying on the poll interval');
        }
      }
      if (intervalSeconds > 0) {
        timer = setInterval(() => syncer.requestSync('interval'), intervalSeconds * 1000);
        timer.unref();
      }
      if (opts.lease) {
        // Renewal runs beside passes (a long snapshot must not lose the lease), and a standby
        // replica that takes the lease over syncs at once rather than at its next interval.
        leaseTimer = setInterval(() => {
          if (!generator || stopping) return;
          const was = leaseHeld;
          void holdLease(generator).then((held) => {
            if (held && !was) syncer.requestSync('sync lease taken over');
          });
        }, Math.max(50, Math.floor(leaseTtl / 3)));
        leaseTimer.unref();
      }
    },
    requestSync(reason: string) {
      if (stopping) return;
      if (reason === 'interval' && failures > 1 && Date.now() < retryAt) return;
      logger.debug({ reason }, 'sync requested');
      // runPass turns every failure into a report; this catch only guards the daemon against a bug.
      schedule().catch((err: unknown) => logger.error({ err }, 'sync pass crashed'));
    },
    async stop() {
      stopping = true;
      if (timer) clearInterval(timer);
      if (leaseTimer) clearInterval(leaseTimer);
      timer = leaseTimer = null;
      try {
        await watcher?.close();
      } catch {
        /* a watcher that fails to close holds no state worth reporting */
      }
      watcher = null;
      await queued;
      await current;
      // Hand the repository over now instead of after the lease runs out.
      if (opts.lease && generator && leaseHeld) await opts.store.releaseSyncLease(generator, opts.lease.holder).catch(() => undefined);
      leaseHeld = !opts.lease;
      if (!opts.git) await git?.close(); // a GitSource handed in belongs to the caller
      git = null;
    },
    isReady: () => ready,
    holdsLease: () => leaseHeld,
    async yieldLease() {
      if (!opts.lease || !leaseHeld || !generator || current) return false;
      leaseHeld = false;
      noTakeUntil = Date.now() + 2 * leaseTtl;
      await opts.store.releaseSyncLease(generator, opts.lease.holder).catch(() => undefined);
      logger.info('handed the sync lease to another replica (sharing the repositories fairly)');
      return true;
    },
  };
  return syncer;
}
