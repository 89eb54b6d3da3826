/**
 * The agent's lifecycle: find itself, heartbeat, then long-poll → reconcile → repair drift until
 * stopped. Network trouble is waited out with backoff; a rejected PAK or a vanished agent ends
 * the run with a clear reason.
 */
import { mkdir } from 'node:fs/promises';
import type { DeploymentObject } from '../store/records.js';
import { AgentApiError, ApiClient } from './api-client.js';
import { createApplier } from './applier.js';
import { HealthChecker } from './health-checker.js';
import { Backoff, sleep, type BackoffOptions } from './backoff.js';
import { ConnectionMonitor } from './connection-monitor.js';
import { repairDrift } from './drift-repair.js';
import { LocalState } from './local-state.js';
import type { AgentLogger } from './logger.js';
import { Reconciler, type PassMode } from './reconciler.js';
import { RetrySchedule } from './retry-schedule.js';
import { StackNames } from './stack-names.js';

export interface AgentOptions {
  url: string;
  pak: string;
  outDir: string;
  applyCommand?: string;
  deleteCommand?: string;
  /** Longest a target-state long poll is held open by the daemon (1..60 s). */
  waitSeconds?: number;
  /** Heartbeat period; 0 = only the one at start. */
  heartbeatSeconds?: number;
  /** Drift check period (besides the check after every pass); 0 = only after passes. */
  driftSeconds?: number;
  commandTimeoutSeconds?: number;
  /** `--health`: a command run per applied stack every healthSeconds (exit 0 healthy, 1 degraded, 2 failing). */
  healthCommand?: string;
  /** Seconds between health rounds (default 30). */
  healthSeconds?: number;
  /** One reconcile pass, then return (cron, tests). */
  once?: boolean;
  logger: AgentLogger;
  /** Abort = graceful stop (SIGTERM/SIGINT): the apply in progress finishes first. */
  signal?: AbortSignal;
  /** Reconnect backoff (tests shorten it). */
  reconnect?: BackoffOptions;
  /** Per-object retry backoff after a FAILURE. */
  retry?: BackoffOptions;
}

/** Shortest time between two polls that found nothing to do. */
const MIN_POLL_MS = 1_000;

export type AgentExit = { code: 0 } | { code: 1; message: string };

export async function runAgent(opts: AgentOptions): Promise<AgentExit> {
  const { logger, once = false } = opts;
  const waitSeconds = Math.min(60, Math.max(1, Math.round(opts.waitSeconds ?? 30)));
  let api: ApiClient;
  try {
    api = new ApiClient({
      url: opts.url,
      pak: opts.pak,
      onRateLimited: (waitMs, request) => logger.info(`rate limited by the daemon (429) on ${request}: waiting ${Math.ceil(waitMs / 1000)} s as its Retry-After asks`),
    });
  } catch (err) {
    return { code: 1, message: (err as Error).message };
  }
  try {
    await mkdir(opts.outDir, { recursive: true });
  } catch (err) {
    return { code: 1, message: `cannot create --out directory ${opts.outDir}: ${(err as Error).message}` };
  }
  const { local, warning } = await LocalState.open(opts.outDir);
  if (warning) logger.warn(warning);

  // `halt` stops everything: a stop signal, or a fatal error found by a timer (heartbeat).
  const halt = new AbortController();
  let fatal: string | null = null;
  const stop = () => halt.abort();
  opts.signal?.addEventListener('abort', stop, { once: true });
  if (opts.signal?.aborted) stop();
  const die = (message: string) => {
    fatal ??= message;
    halt.abort();
  };

  const monitor = new ConnectionMonitor(api.baseUrl, logger);
  const reconnect = new Backoff({ baseMs: 500, capMs: 30_000, ...opts.reconnect });

  // 1. Who am I?
  let agentId: string | null = null;
  while (!halt.signal.aborted && !agentId) {
    try {
      const who = await api.whoami(halt.signal);
      if (!who.agent) {
        const role = who.admin ? 'the admin' : who.generator ? 'a generator' : 'no agent';
        return { code: 1, message: `this PAK belongs to ${role}, not to an agent: create one with \`brokkr-sync agents create NAME --cluster CLUSTER\` and pass the PAK it prints` };
      }
      agentId = who.agent;
      monitor.up();
    } catch (err) {
      if (halt.signal.aborted) break;
      const verdict = classify(err);
      if (verdict.fatal) return { code: 1, message: verdict.message };
      if (once) return { code: 1, message: `cannot reach ${api.baseUrl}: ${verdict.message} (is \`brokkr-sync serve\` running there?)` };
      monitor.down(verdict.message);
      await sleep(reconnect.next(), halt.signal);
    }
  }
  if (!agentId) return { code: 0 };
  reconnect.reset();
  if (local.agentId && local.agentId !== agentId) {
    logger.warn(`${local.statePath} was written by agent ${local.agentId}; this is agent ${agentId} — keeping the files it lists`);
  }
  await local.setAgentId(agentId);

  const applier = createApplier({
    outDir: opts.outDir,
    applyCommand: opts.applyCommand,
    deleteCommand: opts.deleteCommand,
    commandTimeoutMs: (opts.commandTimeoutSeconds ?? 300) * 1000,
  });
  const retries = new RetrySchedule({ baseMs: 1_000, capMs: 60_000, ...opts.retry });
  const reconciler = new Reconciler({ api, agentId, applier, local, names: new StackNames(api, agentId, local), retries, logger });
  const target = opts.applyCommand ? `\`${opts.applyCommand}\`` : `files in ${opts.outDir}`;
  const me = await api.agent(agentId, halt.signal).then(
    (a) => `agent ${a.name} (cluster ${a.cluster_name}, id ${agentId})`,
    () => `agent ${agentId}`,
  );
  logger.info(`${me} connected to ${api.baseUrl}; applying to ${target}`);
  if (opts.applyCommand && !opts.deleteCommand) logger.warn('--apply without --delete: deleted stacks are only forgotten, nothing is run for them');

  // Apply, drift repair and state writes never overlap.
  const serial = new Serial();
  let needFull = false;
  const checkDrift = async () => {
    if (!applier.writesFiles) return;
    const drift = await serial.run(() => repairDrift(opts.outDir, local, logger));
    if (drift.refetch.length > 0) needFull = true;
  };

  // 2. Heartbeats: once now, then on the interval; failures feed the connection monitor.
  const beat = async () => {
    try {
      await api.heartbeat(agentId, halt.signal);
    } catch (err) {
      if (halt.signal.aborted) return;
      const verdict = classify(err);
      if (verdict.fatal) die(verdict.message);
      else monitor.down(verdict.message);
    }
  };
  await beat();
  const timers: NodeJS.Timeout[] = [];
  if (!once && (opts.heartbeatSeconds ?? 30) > 0) timers.push(setInterval(() => void beat(), (opts.heartbeatSeconds ?? 30) * 1000));
  // Health rounds: the first after the first pass (below), then on the interval; bounded like --apply.
  const health = opts.healthCommand
    ? new HealthChecker({ api, agentId, local, command: opts.healthCommand, timeoutMs: (opts.commandTimeoutSeconds ?? 300) * 1000, logger })
    : null;
  let healthStarted = false;
  const checkHealth = async () => {
    try {
      await health?.round(halt.signal);
    } catch (err) {
      if (halt.signal.aborted) return;
      // Only a refused PAK ends the agent; any other trouble with a report waits for the next round.
      const verdict = classify(err);
      if (err instanceof AgentApiError && err.status === 401) die(verdict.message);
      else logger.warn(`health report failed: ${verdict.message}`);
    }
  };
  if (!once && (opts.driftSeconds ?? 10) > 0) {
    timers.push(setInterval(() => void checkDrift().catch((err) => logger.error(`drift check failed: ${(err as Error).message}`)), (opts.driftSeconds ?? 10) * 1000));
  }

  // 3. Poll → reconcile → drift, until stopped. The first pass is `full` to repair local state.
  let mode: PassMode = 'full';
  let etag: string | null = null;
  let objects: DeploymentObject[] = [];
  let failures = 0;
  let lastError = '';
  try {
    while (!halt.signal.aborted) {
      const retryMs = retries.msUntilNext(objects.map((o) => o.id));
      // While the daemon is unreachable, probe without a long poll: a reconnect that parks for
      // the whole wait would only learn (and log) that the daemon is back when the wait ends.
      const wait = once || mode === 'full' || monitor.isDown ? 0 : Math.max(1, Math.min(waitSeconds, retryMs === null ? waitSeconds : Math.ceil(retryMs / 1000)));
      const pollStarted = Date.now();
      try {
        const res = await api.targetState(agentId, { mode, waitSeconds: wait, etag: mode === 'full' ? null : etag, signal: halt.signal });
        monitor.up();
        reconnect.reset();
        const repeated = !res.changed || sameObjects(objects, res.objects);
        if (res.changed) {
          objects = res.objects;
          etag = mode === 'incremental' ? res.etag : null;
        }
        const pass = await serial.run(() => reconciler.reconcile(objects, mode, halt.signal));
        failures += pass.failed;
        if (health && !healthStarted) {
          healthStarted = true;
          if (once) await checkHealth();
          else {
            void checkHealth();
            timers.push(setInterval(() => void checkHealth(), Math.max(1, opts.healthSeconds ?? 30) * 1000));
          }
        }
        if (mode === 'full') objects = [];
        await checkDrift();
        lastError = '';
        const wasFull = mode === 'full';
        mode = needFull ? 'full' : 'incremental';
        needFull = false;
        if (once && !wasFull && mode === 'incremental') break;
        // A daemon that ignores wait/If-None-Match (brokkr v1) answers the same list at once:
        // then keep at least MIN_POLL_MS between polls instead of spinning. Only then — the
        // answer right after our own SUCCESS report is a new (shorter) list, and sleeping there
        // would delay the next commit.
        const idle = pass.applied + pass.removed + pass.failed === 0;
        if (!wasFull && idle && repeated) await sleep(MIN_POLL_MS - (Date.now() - pollStarted), halt.signal);
      } catch (err) {
        if (halt.signal.aborted) break;
        const verdict = classify(err);
        if (verdict.fatal) {
          die(verdict.message);
          break;
        }
        if (once) return { code: 1, message: verdict.message };
        if (verdict.network) monitor.down(verdict.message);
        else if (verdict.message !== lastError) logger.error(verdict.message);
        lastError = verdict.message;
        await sleep(reconnect.next(), halt.signal);
      }
    }
  } finally {
    for (const t of timers) clearInterval(t);
    await serial.idle();
    opts.signal?.removeEventListener('abort', stop);
  }
  if (fatal) return { code: 1, message: fatal };
  if (once && failures > 0) return { code: 1, message: `${failures} deployment object(s) failed to apply (see the log above)` };
  if (!once) logger.info('stopped');
  return { code: 0 };
}

function sameObjects(a: DeploymentObject[], b: DeploymentObject[]): boolean {
  return a.length === b.length && a.every((o, i) => o.id === b[i].id);
}

/** What an error means for the loop: wait it out (network) or stop (fatal). */
function classify(err: unknown): { fatal: boolean; network: boolean; message: string } {
  if (err instanceof AgentApiError) {
    if (err.kind === 'unreachable') return { fatal: false, network: true, message: err.message };
    if (err.kind === 'rejected') {
      return {
        fatal: true,
        network: false,
        message: `the daemon rejected the PAK (${err.status}): ${err.message} — the agent may have been deleted or its PAK rotated; check --pak / BROKKR_PAK`,
      };
    }
    if (err.status === 404) return { fatal: true, network: false, message: `${err.message} — is --url a brokkr-sync daemon, and does this agent still exist?` };
    return { fatal: true, network: false, message: err.message };
  }
  return { fatal: false, network: false, message: err instanceof Error ? err.message : String(err) };
}

/** Runs async jobs one at a time, in call order. */
class Serial {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(job, job);
    this.#tail = next.catch(() => {});
    return next;
  }
  idle(): Promise<void> {
    return this.#tail.then(() => {});
  }
}
