/** The agent's applied state in memory, persisted on every change (see state-file.ts for the format). */
import { StateStore, type AgentState, type AppliedStack } from './state-file.js';

export class LocalState {
  private constructor(
    private readonly store: StateStore,
    private readonly state: AgentState,
  ) {}

  /** Load from OUT; `warning` is set when a corrupt state file was moved aside. */
  static async open(outDir: string): Promise<{ local: LocalState; warning?: string }> {
    const store = new StateStore(outDir);
    const { state, warning } = await store.load();
    return { local: new LocalState(store, state), warning };
  }

  get agentId(): string | null {
    return this.state.agent_id;
  }

  get statePath(): string {
    return this.store.statePath;
  }

  async setAgentId(id: string): Promise<void> {
    if (this.state.agent_id === id) return;
    this.state.agent_id = id;
    await this.store.save(this.state);
  }

  get(stackId: string): AppliedStack | undefined {
    return this.state.stacks[stackId];
  }

  entries(): [string, AppliedStack][] {
    return Object.entries(this.state.stacks);
  }

  /** The stack (other than `exceptStackId`) whose file is `file`, if any. */
  ownerOfFile(file: string, exceptStackId: string): string | undefined {
    return Object.entries(this.state.stacks).find(([id, s]) => id !== exceptStackId && s.file === file)?.[0];
  }

  /** Remember a successful apply: content first, then the state that points at it. */
  async recordApplied(stackId: string, entry: AppliedStack, content: string): Promise<void> {
    await this.store.saveContent(stackId, content);
    this.state.stacks[stackId] = entry;
    await this.store.save(this.state);
  }

  /** Forget a stack after its deletion marker was handled. */
  async forget(stackId: string): Promise<void> {
    if (!(stackId in this.state.stacks)) return;
    delete this.state.stacks[stackId];
    await this.store.save(this.state);
    await this.store.removeContent(stackId);
  }

  /** Last applied content of a stack, or null when it is not kept (any more). */
  lastContent(stackId: string): Promise<string | null> {
    return this.store.readContent(stackId);
  }
}
