/** The listeners of one store's changes: both engines deliver through it, so subscribers see one shape. */
import type { ChangeListener, CommitResult, OwnerKind, StoreChange } from './store.js';

export class ChangeHub {
  readonly #listeners = new Set<ChangeListener>();

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Deliver to every listener; one that throws cannot keep the others (or the writer) from going on. */
  emit(change: StoreChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch {
        /* a listener's own failure is its business */
      }
    }
  }
}

/**
 * What a commit changed, as subscribers need it: when it only gave existing stacks new objects
 * (or deleted stacks), only the agents holding those stacks are concerned; a new stack or any
 * changed stack row (labels and annotations decide association) concerns every agent.
 * Otherwise it still moved the cursor and may have recorded or cleared sync errors (an invalid
 * stack.yaml): 'sync', so status views (the dashboard's /changes) see it at once, no agent does.
 */
export function changeOfCommit(result: CommitResult): StoreChange {
  if (result.updated.length > 0 || result.written.some((w) => w.new_stack)) return { kind: 'stacks' };
  const stacks = [...new Set([...result.created.map((c) => c.stack_id), ...result.deleted.map((d) => d.stack_id)])];
  return stacks.length > 0 ? { kind: 'objects', stacks } : { kind: 'sync' };
}

/** A label or annotation of a stack may change which agents it reaches; of an agent, only that agent's. */
export function tagChange(kind: OwnerKind, ownerId: string): StoreChange {
  return kind === 'stack' ? { kind: 'stacks' } : { kind: 'agent', agentId: ownerId };
}
