/**
 * Stack id → stack name. Target-state objects carry only `stack_id`; names come from the
 * agent's state file (stacks it applied before — the only source left once a stack is deleted)
 * and from `GET /agents/{id}/stacks`, fetched at most once per pass and only for unknown ids.
 */
import type { ApiClient } from './api-client.js';
import type { LocalState } from './local-state.js';

export class StackNames {
  #cache = new Map<string, string>();
  /** dependsOn per stack id, as of the latest `GET /agents/{id}/stacks` (absent: never fetched, or an older daemon). */
  #deps = new Map<string, string[]>();
  constructor(
    private readonly api: ApiClient,
    private readonly agentId: string,
    private readonly local: LocalState,
  ) {}

  /** Make sure every id that can be named is; one HTTP call at most. */
  async prefetch(stackIds: Iterable<string>, signal?: AbortSignal): Promise<void> {
    const unknown = [...stackIds].filter((id) => !this.lookup(id));
    if (unknown.length === 0) return;
    await this.fetch(signal);
  }

  /** One `GET /agents/{id}/stacks`: names and dependsOn of every associated stack. */
  async fetch(signal?: AbortSignal): Promise<void> {
    for (const stack of await this.api.stacks(this.agentId, signal)) {
      this.#cache.set(stack.id, stack.name);
      this.#deps.set(stack.id, Array.isArray(stack.depends_on) ? stack.depends_on : []);
    }
  }

  /** The stack's dependsOn names as last fetched ([] when unknown). */
  dependsOn(stackId: string): readonly string[] {
    return this.#deps.get(stackId) ?? [];
  }

  /** The name if known (state file first: it is what this agent wrote the file under). */
  lookup(stackId: string): string | undefined {
    return this.local.get(stackId)?.name ?? this.#cache.get(stackId);
  }
}
