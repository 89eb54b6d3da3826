/**
 * The repositories one daemon syncs: one syncer each, on its own loop, so a slow, huge or
 * unreachable repository never delays another (fetches are bounded together; failures back off
 * per repository). Repositories come from `--repo` (the one-repository shorthand), the config
 * file (reconciled at start: added, changed; one dropped from the file is reported, not pruned)
 * and the API (kept in the database, back after a restart). With several replicas every replica
 * runs a syncer per repository and each one's lease decides who syncs it; a repository added or
 * removed through any replica reaches the others through the store's change notifications.
 */
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { isRemoteUrl, redactUrl, stripCredentials } from '../git/index.js';
import { collectClones } from '../git/clone-gc.js';
import type { Repository, RepositorySpec, Store } from '../store/store.js';
import { ConflictError, NotFoundError } from '../store/store.js';
import { createSyncer, DEFAULT_LEASE_TTL_MS, type Syncer, type SyncerOptions } from '../sync/syncer.js';
import type { RepositoryView } from '../http/context.js';
import type { SyncReport } from '../sync/sync-report.js';
import { classifyFailure } from '../sync/failure-class.js';
import { httpCredentials } from './repository-spec.js';
import type { AuditContext } from '../store/audit.js';

/** A repository as the HTTP layer shows it. */
export type RepositoryEntry = RepositoryView;

export interface RepositorySetOptions {
  store: Store;
  dataDir: string;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** Shared by every syncer: lease, watch, content limit. */
  syncer: Pick<SyncerOptions, 'lease' | 'watch' | 'maxContentBytes'>;
  /** Sync metrics of one repository (labelled with its name). */
  metricsFor?: (repository: string) => SyncerOptions['metrics'];
  /** Most fetches (and clones) running at once across repositories (default 4). */
  fetchConcurrency?: number;
}

interface Running {
  entry: RepositoryEntry;
  syncer: Syncer;
  webhookSecret: string | null;
}

export class RepositorySet {
  readonly #opts: RepositorySetOptions;
  readonly #running = new Map<string, Running>();
  /** Config-origin repositories the config file no longer lists: reported, not synced. */
  readonly #dropped = new Map<string, Repository>();
  #droppedNames = new Set<string>();
  #started = false;
  /** With leases: the most repositories this replica should hold (repositories ÷ live replicas, rounded up). */
  #fairShare = Infinity;
  #balanceTimer: NodeJS.Timeout | null = null;
  readonly #gate: ReturnType<typeof pLimit>;
  #unsubscribe: (() => void) | null = null;
  #reconciling: Promise<void> = Promise.resolve();
  #stopped = false;
  /** Whether the clones were garbage-collected since this daemon started (done once, then on each removal). */
  #collected = false;
  /** Syncers whose first pass is over, synced or failed (its error then on its row). */
  readonly #firstPassOver = new WeakSet<Syncer>();
  /** Syncers of repositories added while running: readiness was decided without them. */
  readonly #late = new WeakSet<Syncer>();

  constructor(opts: RepositorySetOptions) {
    this.#opts = opts;
    this.#gate = pLimit(opts.fetchConcurrency ?? 4);
  }

  /**
   * Load what to sync: the `--repo` shorthand (if any), the config file's list (saved, then
   * reconciled), and every repository added at run time earlier. Syncers exist after this;
   * `start()` runs them.
   */
  async load(initial: { flag?: { repo: string; branch?: string; root?: string; intervalSeconds?: number }; config?: RepositorySpec[] }): Promise<void> {
    const { store, logger } = this.#opts;
    if (initial.flag) {
      const f = initial.flag;
      const entry: RepositoryEntry = {
        generator_id: null,
        name: redactUrl(f.repo),
        url: stripCredentials(f.repo),
        branch: f.branch ?? null,
        root: f.root ?? '',
        interval_seconds: f.intervalSeconds ?? null,
        origin: 'flag',
        auth: 'none',
        webhook_secret: false,
        syncing_here: false,
        dropped_from_config: false,
      };
      this.#launch(entry, { repo: f.repo, branch: f.branch, root: f.root, intervalSeconds: f.intervalSeconds }, null);
    }
    let dropped = new Set<string>();
    if (initial.config) {
      const listed = new Set(initial.config.map((s) => s.name));
      for (const spec of initial.config) await store.saveRepository(spec);
      const stale = (await store.listRepositories()).filter((r) => r.origin === 'config' && !listed.has(r.name));
      dropped = new Set(stale.map((r) => r.name));
      for (const repo of stale) {
        logger.warn(
          { repository: repo.name },
          `repository ${repo.name} is no longer in the config file: it is not synced, and its stacks stay (agents keep them); ` +
            `remove it with 'brokkr-sync repos remove ${repo.name}' (add --prune to delete its stacks)`,
        );
      }
    }
    this.#droppedNames = dropped;
    await this.#reconcile();
    // Repositories added or removed through another replica (or this one's API) are picked up here.
    this.#unsubscribe = store.onChange((change) => {
      if (change.kind === 'repositories') this.#reconcileSoon();
      // Whoever was asked (a push hook to any replica), the holder of the lease syncs.
      if (change.kind === 'sync-requested') this.find({ generatorId: change.generatorId })?.syncer.requestSync('requested');
    });
  }

  /** Run every syncer: first passes, then watching; resolves when every first pass is over. */
  async start(): Promise<void> {
    this.#started = true;
    const lease = this.#opts.syncer.lease;
    if (lease) {
      await this.#balance().catch(() => undefined);
      this.#balanceTimer = setInterval(() => void this.#balance().catch(() => undefined), Math.max(50, Math.floor((lease.ttlMs ?? DEFAULT_LEASE_TTL_MS) / 3)));
      this.#balanceTimer.unref();
    }
    await Promise.all([...this.#running.values()].map((r) => this.#startSyncer(r.entry.name, r.syncer)));
  }

  /**
   * Share the repositories among the replicas: say this one is here, learn how many are, and
   * when holding more than its share hand one lease over (one per round, so two replicas never
   * trade the same repositories back and forth); a replica below its share takes free leases.
   */
  async #balance(): Promise<void> {
    const lease = this.#opts.syncer.lease;
    if (!lease || this.#stopped) return;
    const ttl = lease.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    // Presence lasts as long as a lease: a dead replica stops counting when its leases run out.
    const replicas = await this.#opts.store.announceReplica(lease.holder, ttl);
    const syncers = [...this.#running.values()].map((r) => r.syncer);
    this.#fairShare = Math.max(1, Math.ceil(syncers.length / Math.max(1, replicas)));
    if (syncers.filter((s) => s.holdsLease()).length <= this.#fairShare) return;
    for (const syncer of syncers) if (syncer.holdsLease() && (await syncer.yieldLease())) return;
  }

  #held(): number {
    let n = 0;
    for (const { syncer } of this.#running.values()) if (syncer.holdsLease()) n += 1;
    return n;
  }

  #startSyncer(name: string, syncer: Syncer): Promise<void> {
    return syncer
      .start()
      .catch((err: unknown) => {
        this.#opts.logger.error({ repository: name, err: err instanceof Error ? err.message : String(err) }, 'the syncer could not start');
      })
      .finally(() => this.#firstPassOver.add(syncer));
  }

  #reconcileSoon(): void {
    this.#reconciling = this.#reconciling.then(() => this.#reconcile()).catch((err: unknown) => {
      this.#opts.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'cannot reload the list of repositories');
    });
  }

  /** Make the running syncers match the database's repositories (minus those dropped from the config file). */
  async #reconcile(): Promise<void> {
    if (this.#stopped) return;
    const stored = await this.#opts.store.listRepositories();
    const wanted = new Map<string, Repository>();
    this.#dropped.clear();
    for (const repo of stored) {
      if (repo.origin === 'config' && this.#droppedNames.has(repo.name)) this.#dropped.set(repo.name, repo);
      else wanted.set(repo.name, repo);
    }
    let removed = false;
    for (const [name, running] of this.#running) {
      if (running.entry.origin === 'flag') continue;
      const repo = wanted.get(name);
      if (!repo || changed(running, repo)) {
        this.#running.delete(name);
        await running.syncer.stop();
        removed = true;
        if (!repo) this.#opts.logger.info({ repository: name }, 'repository removed: no longer synced');
      }
    }
    if (removed || !this.#collected) await this.#collectClones(stored);
    for (const repo of wanted.values()) {
      if (!this.#running.has(repo.name)) this.#startStored(repo);
    }
  }

  /**
   * Delete the clones no repository owns any more (removed, or its URL changed) and the temp
   * folders of crashed clones: at start, and whenever a syncer stops. Every stored repository,
   * one dropped from the config file included, keeps its clone; so does the `--repo` one.
   */
  async #collectClones(stored: Repository[]): Promise<void> {
    this.#collected = true;
    const urls = [...stored.map((r) => r.url), ...[...this.#running.values()].map((r) => r.entry.url)];
    try {
      const { removedClones, removedTemps } = await collectClones(this.#opts.dataDir, urls);
      for (const dir of removedClones) this.#opts.logger.info({ dir }, 'removed the clone of a repository no longer synced');
      for (const dir of removedTemps) this.#opts.logger.info({ dir }, 'removed the temp folder of a clone that did not finish (the daemon stopped mid-clone)');
    } catch (err) {
      this.#opts.logger.warn({ err: err instanceof Error ? err.message : String(err), dataDir: this.#opts.dataDir }, 'cannot clean up old clones in the data dir; they stay');
    }
  }

  #startStored(repo: Repository): void {
    const { logger } = this.#opts;
    let httpAuth: ReturnType<typeof httpCredentials>;
    try {
      httpAuth = httpCredentials(repo, this.#opts.env);
    } catch (err) {
      // Not started: the error is recorded on its row so status and the API show it.
      const message = err instanceof Error ? err.message : String(err);
      const code = /environment variable/.test(message) ? 'CREDENTIALS_MISSING' : 'CONFIG_INVALID';
      logger.error({ repository: repo.name, code, condition: 'stalled', action: classifyFailure(code).action }, message);
      void this.#opts.store.setSyncFailure(repo.generator_id, `${code}: ${message}`).catch(() => undefined);
      return;
    }
    const entry = entryOf(repo);
    const syncer = this.#launch(
      entry,
      {
        repo: repo.url,
        branch: repo.branch ?? undefined,
        root: repo.root,
        intervalSeconds: repo.interval_seconds ?? undefined,
        generatorName: repo.name,
        sshKeyFile: repo.auth && 'sshKeyFile' in repo.auth ? repo.auth.sshKeyFile : undefined,
        httpAuth: httpAuth ?? undefined,
      },
      repo.webhook_secret,
    );
    if (this.#started && !this.#stopped) {
      this.#late.add(syncer);
      void this.#startSyncer(repo.name, syncer);
    }
  }

  #launch(entry: RepositoryEntry, source: Partial<SyncerOptions> & { repo: string }, webhookSecret: string | null): Syncer {
    const { store, dataDir, logger } = this.#opts;
    const lease = this.#opts.syncer.lease;
    const syncer = createSyncer({
      ...this.#opts.syncer,
      ...(lease ? { lease: { ...lease, mayTake: () => this.#held() < this.#fairShare } } : {}),
      ...source,
      store,
      dataDir,
      logger: logger.child({ repository: entry.name }),
      metrics: this.#opts.metricsFor?.(entry.name),
      // Only network fetches take a slot: a local repository is read in place (its fetch does
      // nothing) and must never queue behind a remote that hangs.
      ...(isRemoteUrl(source.repo) ? { fetchGate: <T>(fetch: () => Promise<T>) => this.#gate(fetch) } : {}),
    });
    this.#running.set(entry.name, { entry, syncer, webhookSecret });
    return syncer;
  }

  /** The `--repo` syncer, or the first one (tests and benchmarks of one repository). */
  primary(): Syncer | null {
    return [...this.#running.values()][0]?.syncer ?? null;
  }

  list(): RepositoryEntry[] {
    const running = [...this.#running.values()].map(({ entry, syncer }) => ({
      ...entry,
      generator_id: entry.generator_id ?? safeGeneratorId(syncer),
      syncing_here: syncer.holdsLease(),
    }));
    const dropped = [...this.#dropped.values()].map((repo) => ({ ...entryOf(repo), dropped_from_config: true }));
    return [...running, ...dropped];
  }

  /** Add (or change) a repository at run time; it is kept in the database and synced from now on. */
  async add(spec: RepositorySpec, audit?: AuditContext): Promise<Repository> {
    httpCredentials(spec, this.#opts.env); // refuse now, with the reason, what could never sync
    const saved = await this.#opts.store.saveRepository(spec, audit);
    this.#droppedNames.delete(spec.name);
    await this.#reconcile();
    return saved;
  }

  /** Stop syncing a repository (its stacks stay unless prune). */
  async remove(generatorId: string, prune: boolean, audit?: AuditContext): Promise<void> {
    if (this.find({ generatorId })?.entry.origin === 'flag') {
      throw new ConflictError('this repository is the one given by --repo: stop the daemon and start it without --repo (or with another) instead');
    }
    await this.#opts.store.removeRepository(generatorId, { prune }, audit);
    await this.#reconcile();
  }

  /** The running repository with this generator id or name, or null. */
  find(key: { generatorId?: string; name?: string; url?: string }): { entry: RepositoryEntry; syncer: Syncer; webhookSecret: string | null } | null {
    for (const running of this.#running.values()) {
      const id = running.entry.generator_id ?? safeGeneratorId(running.syncer);
      if (key.generatorId && id === key.generatorId) return running;
      if (key.name && running.entry.name === key.name) return running;
      if (key.url && sameRepositoryUrl(running.entry.url, key.url)) return running;
    }
    return null;
  }

  /** Ask every repository for a pass soon (on this replica). */
  requestSync(reason: string): void {
    for (const { syncer } of this.#running.values()) syncer.requestSync(reason);
  }

  /**
   * Ask for one repository's pass through the store: every replica hears it (this one too, at
   * once), so a push hook that reached a standby replica still reaches the one holding the lease.
   */
  async requestSyncOf(generatorId: string): Promise<void> {
    await this.#opts.store.requestSync(generatorId);
  }

  /** One pass of one repository (by generator id) or of all, now; their reports. */
  async syncNow(generatorId?: string): Promise<SyncReport[]> {
    if (generatorId) {
      const found = this.find({ generatorId });
      if (!found) throw new NotFoundError(`no repository with generator ${generatorId} is synced by this daemon`);
      return [await found.syncer.syncOnce()];
    }
    return Promise.all([...this.#running.values()].map((r) => r.syncer.syncOnce()));
  }

  /**
   * Ready once every repository has synced (or the database holds its state). With several, one
   * whose first pass failed (unreachable, bad credentials: the error is on its row) no longer holds
   * the others back, as long as one of them is served; a repository added while running (a huge
   * clone, a typo) never makes a ready daemon unready. One repository alone keeps the strict rule.
   */
  isReady(): boolean {
    const syncers = [...this.#running.values()].map((r) => r.syncer);
    const served = (s: Syncer) => s.isReady() || this.#late.has(s);
    const settled = (s: Syncer) => served(s) || (syncers.length > 1 && this.#firstPassOver.has(s));
    return syncers.every(settled) && (syncers.length === 0 || syncers.some(served));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#balanceTimer) clearInterval(this.#balanceTimer);
    this.#unsubscribe?.();
    await this.#reconciling;
    await Promise.all([...this.#running.values()].map((r) => r.syncer.stop()));
    const lease = this.#opts.syncer.lease;
    if (lease) await this.#opts.store.withdrawReplica(lease.holder).catch(() => undefined);
  }
}

function authKind(repo: Repository): RepositoryEntry['auth'] {
  return repo.auth === null ? 'none' : 'sshKeyFile' in repo.auth ? 'ssh-key' : 'token';
}

function entryOf(repo: Repository): RepositoryEntry {
  return {
    generator_id: repo.generator_id,
    name: repo.name,
    url: stripCredentials(repo.url),
    branch: repo.branch,
    root: repo.root,
    interval_seconds: repo.interval_seconds,
    origin: repo.origin,
    auth: authKind(repo),
    webhook_secret: repo.webhook_secret !== null,
    syncing_here: false,
    dropped_from_config: false,
  };
}

function changed(running: Running, repo: Repository): boolean {
  const e = running.entry;
  return (
    e.url !== stripCredentials(repo.url) ||
    e.branch !== repo.branch ||
    e.root !== repo.root ||
    e.interval_seconds !== repo.interval_seconds ||
    running.webhookSecret !== repo.webhook_secret ||
    e.auth !== authKind(repo)
  );
}

function safeGeneratorId(syncer: Syncer): string | null {
  try {
    return syncer.generatorId();
  } catch {
    return null;
  }
}

/** Push hooks name a repository by one of its URLs (https clone URL, ssh URL, web page): compare host and path. */
export function sameRepositoryUrl(a: string, b: string): boolean {
  const key = (u: string) => {
    const s = stripCredentials(u.trim()).toLowerCase();
    const scp = /^[^/@]+@([^:/]+):(.+)$/.exec(s); // git@host:owner/repo.git
    const hostPath = scp ? `${scp[1]}/${scp[2]}` : s.replace(/^[a-z+]+:\/\//, '').replace(/^[^@/]*@/, '').replace(/:\d+\//, '/');
    return hostPath.replace(/\.git$/, '').replace(/\/+$/, '');
  };
  return isRemoteUrl(a) && isRemoteUrl(b) ? key(a) === key(b) : a === b;
}
