/**
 * `--health CMD`: every round, run CMD for each stack the agent has applied (content on stdin,
 * the `BROKKR_*` variables of `--apply`), map its exit code to brokkr's health status and report
 * the whole round in one `PATCH /agents/{id}/health-status`.
 */
import type { ApiClient, HealthUpdate } from './api-client.js';
import type { LocalState } from './local-state.js';
import type { AgentLogger } from './logger.js';
import { describeExit, runCommand, type CommandResult } from './run-command.js';

/** Exit 0 healthy, 1 degraded, 2 failing; anything else (another code, a signal, a timeout) unknown. */
export function healthOfExit(r: CommandResult): HealthUpdate['status'] {
  if (r.timedOut || r.spawnError) return 'unknown';
  return r.code === 0 ? 'healthy' : r.code === 1 ? 'degraded' : r.code === 2 ? 'failing' : 'unknown';
}

/** The summary is the first non-empty line of the command's output (stdout, else stderr), or how it ended. */
export function summaryOf(command: string, r: CommandResult): string {
  const first = (text: string) => text.replace(/^…/, '').split('\n').map((l) => l.trim()).find((l) => l.length > 0);
  const line = first(r.stdoutTail) ?? first(r.stderrTail);
  const status = healthOfExit(r);
  if (status === 'unknown' && (r.timedOut || r.spawnError || r.signal || !line)) return describeExit(command, r);
  return (line ?? '').slice(0, 1024);
}

export interface HealthCheckerOptions {
  api: ApiClient;
  agentId: string;
  local: LocalState;
  command: string;
  timeoutMs: number;
  logger: AgentLogger;
}

export class HealthChecker {
  /** The last status logged per stack: a line is logged when it changes, not every round. */
  readonly #last = new Map<string, string>();
  #running: Promise<number> | null = null;

  constructor(private readonly opts: HealthCheckerOptions) {}

  /** One round (a round still running is joined, never doubled). Resolves to the number of objects reported. */
  round(signal?: AbortSignal): Promise<number> {
    this.#running ??= this.#round(signal).finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #round(signal?: AbortSignal): Promise<number> {
    const { api, agentId, local, command, timeoutMs, logger } = this.opts;
    const updates: HealthUpdate[] = [];
    // A stack no longer associated (a label removed) stays in the local state but is not ours to report on.
    const associated = new Set((await api.stacks(agentId, signal)).map((s) => s.id));
    for (const [stackId, applied] of local.entries()) {
      if (signal?.aborted) return 0;
      if (!associated.has(stackId)) continue;
      const content = await local.lastContent(stackId);
      if (content === null) continue;
      const env = { BROKKR_STACK_NAME: applied.name, BROKKR_STACK_ID: stackId, BROKKR_SEQUENCE_ID: String(applied.sequence_id) };
      const r = await runCommand({ command, stdin: content, env, timeoutMs, keepBytes: 16 * 1024 });
      const status = healthOfExit(r);
      const summary = summaryOf(command, r);
      updates.push({ id: applied.object_id, status, summary: summary || null, checked_at: new Date().toISOString() });
      const line = `${status}${summary ? ` — ${summary}` : ''}`;
      if (this.#last.get(stackId) !== line) {
        this.#last.set(stackId, line);
        (status === 'healthy' ? logger.info : logger.warn).call(logger, `${applied.name}: health ${line}`);
      }
    }
    if (updates.length > 0) await api.reportHealth(agentId, updates, signal);
    return updates.length;
  }
}
