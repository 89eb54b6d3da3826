/** What every route module receives: the store, the change feed and the server's shared services. */
import type { ChangeFeed } from '../change-feed.js';
import type { Store } from '../store/store.js';
import type { Authenticator } from './auth.js';
import type { Metrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { TargetStates } from './target-states.js';

/** The part of the syncer the HTTP layer uses (readiness, webhook trigger, status). */
export interface SyncControl {
  isReady(): boolean;
  requestSync(reason: string): void;
  status?(): unknown;
}

export interface ServerContext {
  store: Store;
  feed: ChangeFeed;
  auth: Authenticator;
  targets: TargetStates;
  metrics: Metrics;
  limiter: RateLimiter | null;
  syncer: SyncControl | null;
  webhookSecret: string | null;
  /** True once the server is closing: long polls answer at once instead of parking again. */
  closing: boolean;
}
