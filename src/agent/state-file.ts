/**
 * What the agent has applied, kept in OUT so a restart neither re-applies everything nor forgets
 * which files it owns: `OUT/.brokkr-agent-state.json` (stack id → name, file, sequence, checksum)
 * plus the last applied content of each stack in `OUT/.brokkr-agent/<stack id>.yaml`, which is what
 * drift repair restores and what `--delete CMD` receives on stdin.
 */
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';

export const STATE_FILE = '.brokkr-agent-state.json';
export const CONTENT_DIR = '.brokkr-agent';
const STATE_VERSION = 1;

/** One stack the agent has applied successfully. */
export interface AppliedStack {
  name: string;
  /** File name inside OUT (file mode), null when an --apply command handled it. */
  file: string | null;
  object_id: string;
  sequence_id: number;
  /** SHA-256 hex of the applied content. */
  checksum: string;
  applied_at: string;
}

export interface AgentState {
  version: typeof STATE_VERSION;
  agent_id: string | null;
  stacks: Record<string, AppliedStack>;
}

export type LoadedState = { state: AgentState; warning?: string };

/** Ids come from the server; anything that is not UUID-like must never reach a path. */
const ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

export class StateStore {
  readonly statePath: string;
  readonly contentDir: string;

  constructor(readonly outDir: string) {
    this.statePath = join(outDir, STATE_FILE);
    this.contentDir = join(outDir, CONTENT_DIR);
  }

  /**
   * Read the state; a missing file is an empty state. A corrupt one is moved aside (kept for a
   * human to look at) and replaced by an empty state with a warning: the agent then re-applies
   * what the daemon sends, which is safe because applies are idempotent.
   */
  async load(): Promise<LoadedState> {
    let text: string;
    try {
      text = await readFile(this.statePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyState() };
      throw err;
    }
    const parsed = parseState(text);
    if (parsed) return { state: parsed };
    const aside = `${this.statePath}.corrupt-${Date.now()}`;
    await rename(this.statePath, aside).catch(() => {});
    return { state: emptyState(), warning: `state file ${this.statePath} was unreadable; moved it to ${aside} and starting fresh` };
  }

  async save(state: AgentState): Promise<void> {
    await writeFileAtomic(this.statePath, `${JSON.stringify(state, null, 2)}\n`);
  }

  /** Keep the content last applied for a stack (for drift repair and --delete). */
  async saveContent(stackId: string, content: string): Promise<void> {
    await mkdir(this.contentDir, { recursive: true });
    await writeFileAtomic(this.contentPath(stackId), content);
  }

  /** The content last applied for a stack, or null if none is kept. */
  async readContent(stackId: string): Promise<string | null> {
    try {
      return await readFile(this.contentPath(stackId), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async removeContent(stackId: string): Promise<void> {
    await rm(this.contentPath(stackId), { force: true });
  }

  private contentPath(stackId: string): string {
    if (!ID_PATTERN.test(stackId)) throw new Error(`refusing unexpected stack id ${JSON.stringify(stackId)}`);
    return join(this.contentDir, `${stackId}.yaml`);
  }
}

export function emptyState(): AgentState {
  return { version: STATE_VERSION, agent_id: null, stacks: {} };
}

/** Validate the shape of a state file; null when it is not one we wrote. */
export function parseState(text: string): AgentState | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(raw) || raw.version !== STATE_VERSION || !isObject(raw.stacks)) return null;
  const stacks: Record<string, AppliedStack> = {};
  for (const [id, entry] of Object.entries(raw.stacks)) {
    if (!ID_PATTERN.test(id) || !isObject(entry)) return null;
    const { name, file, object_id, sequence_id, checksum, applied_at } = entry;
    if (typeof name !== 'string' || (file !== null && typeof file !== 'string') || typeof object_id !== 'string') return null;
    if (typeof sequence_id !== 'number' || typeof checksum !== 'string' || typeof applied_at !== 'string') return null;
    if (typeof file === 'string' && (file.includes('/') || file.includes('\\') || file.startsWith('.'))) return null;
    stacks[id] = { name, file, object_id, sequence_id, checksum, applied_at };
  }
  const agentId = typeof raw.agent_id === 'string' ? raw.agent_id : null;
  return { version: STATE_VERSION, agent_id: agentId, stacks };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
