/** What every route module receives: the store, the change feed and the server's shared services. */
import type { ChangeFeed } from '../change-feed.js';
import type { Repository, RepositorySpec, Store } from '../store/store.js';
import type { SyncReport } from '../sync/sync-report.js';
import type { Authenticator } from './auth.js';
import type { Metrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { TargetStates } from './target-states.js';
import type { AuditContext } from '../store/audit.js';

/** The part of the syncer the HTTP layer uses (readiness, webhook trigger, status). */
export interface SyncControl {
  isReady(): boolean;
  requestSync(reason: string): void;
  status?(): unknown;
}

/** One repository the daemon syncs, as admins see it (never a credential or a secret). */
export interface RepositoryView {
  generator_id: string | null;
  name: string;
  /** Without credentials. */
  url: string;
  branch: string | null;
  root: string;
  interval_seconds: number | null;
  /** config: from `serve --config`; api: added at run time; flag: `serve --repo`. */
  origin: 'config' | 'api' | 'flag';
  auth: 'none' | 'token' | 'ssh-key';
  /** Whether a webhook secret is configured (the secret itself is never shown). */
  webhook_secret: boolean;
  /** This replica holds the repository's sync lease (always true on SQLite once synced). */
  syncing_here: boolean;
  /** Still in the database from an earlier config file, no longer listed: not synced, stacks kept. */
  dropped_from_config: boolean;
}

/** The daemon's repositories, as the HTTP layer may change them (section 9 of the spec). */
export interface RepositoryControl {
  list(): RepositoryView[];
  /** With an audit context, the change is recorded in audit_logs in its own transaction. */
  add(spec: RepositorySpec, audit?: AuditContext): Promise<Repository>;
  remove(generatorId: string, prune: boolean, audit?: AuditContext): Promise<void>;
  find(key: { generatorId?: string; name?: string; url?: string }): { entry: RepositoryView; webhookSecret: string | null } | null;
  syncNow(generatorId?: string): Promise<SyncReport[]>;
  /** A pass of this repository soon, by whichever replica holds its lease. */
  requestSyncOf(generatorId: string): Promise<void>;
}

export interface ServerContext {
  store: Store;
  feed: ChangeFeed;
  auth: Authenticator;
  targets: TargetStates;
  metrics: Metrics;
  limiter: RateLimiter | null;
  syncer: SyncControl | null;
  /** Absent in servers without a daemon behind them (tests of the API alone). */
  repositories: RepositoryControl | null;
  webhookSecret: string | null;
  /** True once the server is closing: long polls answer at once instead of parking again. */
  closing: boolean;
}
