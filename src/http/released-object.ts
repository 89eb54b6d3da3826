/**
 * The seam for rollout waves (SPEC §10): whether a stack's object is released to an agent.
 *
 * Until waves exist every object is released to every associated agent at once, so this answers
 * true. The rollout engine replaces the body (e.g. with the wave state it keeps per stack): every
 * reader of "released" — `GET /commits/{sha}` and so `brokkr-sync wait` — goes through here.
 */
import type { Uuid } from '../store/records.js';
import type { Store } from '../store/store.js';

export interface ReleaseQuestion {
  stackId: Uuid;
  objectId: Uuid;
  sequenceId: number;
  agentId: Uuid;
}

export async function isReleased(_store: Store, _q: ReleaseQuestion): Promise<boolean> {
  return true;
}
