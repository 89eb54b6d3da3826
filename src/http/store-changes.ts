/**
 * Turning the store's change announcements into this server's wake-ups and cache invalidations.
 *
 * Every write announces itself through `store.onChange` — on PostgreSQL also the writes of other
 * replicas — so routes and the syncer never notify anyone themselves, and a replica learns of a
 * rotated PAK or a synced commit the same way whoever made it.
 */
import type { ChangeFeed } from '../change-feed.js';
import type { StoreChange } from '../store/store.js';
import type { Authenticator } from './auth.js';
import type { TargetStates } from './target-states.js';

export function applyStoreChange(change: StoreChange, { feed, auth, targets }: { feed: ChangeFeed; auth: Authenticator; targets: TargetStates }): void {
  switch (change.kind) {
    case 'objects':
      // Only agents whose cached state holds one of these stacks re-query.
      feed.notify({ stacks: change.stacks });
      return;
    case 'stacks':
      feed.notify();
      return;
    case 'sync-requested':
      return; // the repository set acts on it; nothing anyone sees changed yet
    case 'sync':
    case 'repositories':
      // Status views (dashboard, /changes) wake; no agent's target state changed.
      feed.notify({ stacks: [] });
      return;
    case 'agent':
      targets.agentChanged(change.agentId);
      return;
    case 'agents':
      // A released wave: its agents re-query, every other cached state stays valid.
      targets.agentsChanged(change.agentIds);
      return;
    case 'auth':
      if (change.agentId === null) {
        auth.invalidateAll();
        feed.notify();
      } else {
        auth.invalidateAgent(change.agentId);
        // Wakes the agent's parked polls, which then find their PAK revoked or their agent gone.
        targets.forgetAgent(change.agentId);
      }
  }
}
