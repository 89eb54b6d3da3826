/**
 * One reconcile pass: bring OUT (or the cluster, through --apply) to the target state the daemon
 * sent, oldest sequence first but dependencies (stack.yaml dependsOn) before their dependents, and report a DEPLOY/DELETE event for each object handled.
 *
 * Invariants: the state file is written after a successful apply and before its event is
 * reported, so a crash or a lost report never causes a second apply — the object comes back in
 * the next incremental target state, matches the state file, and is only re-reported.
 */
import type { DeploymentObject } from '../store/records.js';
import { AgentApiError, type ApiClient, type EventReport } from './api-client.js';
import type { Applier, Outcome } from './applier.js';
import type { LocalState } from './local-state.js';
import { sha256Hex } from '../sha256-hex.js';
import type { AgentLogger } from './logger.js';
import type { RetrySchedule } from './retry-schedule.js';
import { dependencyOrder } from './dependency-order.js';
import { safeFileName } from './safe-file-name.js';
import type { StackNames } from './stack-names.js';

export interface ReconcilerDeps {
  api: ApiClient;
  agentId: string;
  applier: Applier;
  local: LocalState;
  names: StackNames;
  retries: RetrySchedule;
  logger: AgentLogger;
}

export interface PassResult {
  applied: number;
  removed: number;
  failed: number;
  /** Objects left for a later pass (retry not due yet, name not resolvable yet). */
  deferred: number;
}

/**
 * `full` passes (the first one after start) repair local state silently: objects whose state
 * already matches are skipped without an event. `incremental` passes get only objects without a
 * SUCCESS event, so each one is acted on (or re-reported) and answered with an event.
 */
export type PassMode = 'full' | 'incremental';

export class Reconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  async reconcile(objects: DeploymentObject[], mode: PassMode, signal?: AbortSignal): Promise<PassResult> {
    const { retries, names } = this.deps;
    const result: PassResult = { applied: 0, removed: 0, failed: 0, deferred: 0 };
    retries.keepOnly(new Set(objects.map((o) => o.id)));
    const bySequence = [...objects].sort((a, b) => a.sequence_id - b.sequence_id);
    // Several stacks at once: their dependsOn (one GET /agents/{id}/stacks) orders them; otherwise only unknown names are fetched.
    if (new Set(bySequence.map((o) => o.stack_id)).size > 1) await names.fetch(signal);
    else await names.prefetch(bySequence.map((o) => o.stack_id), signal);
    const ordered = dependencyOrder(bySequence, (id) => names.lookup(id), (id) => names.dependsOn(id));
    const pendingMarkers = new Set(ordered.filter((o) => o.is_deletion_marker).map((o) => o.stack_id));

    for (const obj of ordered) {
      // SIGTERM: finish the object in hand, start no new one.
      if (signal?.aborted) break;
      if (!retries.isDue(obj.id)) {
        result.deferred += 1;
        continue;
      }
      const outcome = obj.is_deletion_marker ? await this.remove(obj, mode) : await this.deploy(obj, mode, pendingMarkers);
      if (outcome === 'deferred') result.deferred += 1;
      else if (outcome === 'failed') result.failed += 1;
      else if (outcome === 'applied') result.applied += 1;
      else if (outcome === 'removed') result.removed += 1;
      if (obj.is_deletion_marker && outcome === 'removed') pendingMarkers.delete(obj.stack_id);
    }
    return result;
  }

  private async deploy(obj: DeploymentObject, mode: PassMode, pendingMarkers: Set<string>): Promise<PassOutcome> {
    const { local, names, logger, applier } = this.deps;
    const name = names.lookup(obj.stack_id);
    if (!name) {
      logger.warn(`stack ${obj.stack_id} is not among this agent's stacks yet; will retry`);
      this.deps.retries.failed(obj.id, 'unknown stack');
      return 'deferred';
    }
    const checksum = sha256Hex(obj.yaml_content);
    if (obj.yaml_checksum && obj.yaml_checksum !== checksum) {
      logger.warn(`${name}: content checksum ${checksum.slice(0, 12)} differs from yaml_checksum ${obj.yaml_checksum.slice(0, 12)} sent by the daemon`);
    }
    // Only file mode needs a file name; --apply gets the name in BROKKR_STACK_NAME as it is.
    const safe = applier.writesFiles ? safeFileName(name) : null;
    if (safe && !safe.ok) return this.fail(obj, name, 'DEPLOY', safe.message);
    const file = safe?.ok ? safe.file : null;
    const entry = local.get(obj.stack_id);
    // `file` too: switching between file mode and --apply between runs must apply once more.
    if (entry && entry.sequence_id === obj.sequence_id && entry.checksum === checksum && entry.file === file) {
      // Applied before (a restart, or the SUCCESS report got lost): never apply twice.
      if (mode === 'full') return 'skipped';
      await this.report(obj, 'DEPLOY', { ok: true, message: `already applied (sequence ${obj.sequence_id})` });
      return 'applied';
    }
    const owner = file ? local.ownerOfFile(file, obj.stack_id) : undefined;
    if (owner) {
      // A deleted stack whose marker is still queued in this pass frees the file first.
      if (pendingMarkers.has(owner)) return 'deferred';
      const other = local.get(owner)?.name ?? owner;
      return this.fail(obj, name, 'DEPLOY', `file name collision: stacks ${JSON.stringify(other)} and ${JSON.stringify(name)} both map to ${file}; rename one of them`);
    }

    const outcome = await applier.apply({ stackId: obj.stack_id, stackName: name, sequenceId: obj.sequence_id, file, content: obj.yaml_content });
    if (!outcome.ok) return this.fail(obj, name, 'DEPLOY', outcome.message);
    await local.recordApplied(
      obj.stack_id,
      {
        name,
        file,
        object_id: obj.id,
        sequence_id: obj.sequence_id,
        checksum,
        applied_at: new Date().toISOString(),
      },
      obj.yaml_content,
    );
    this.succeeded(obj, `${name}: applied sequence ${obj.sequence_id} — ${outcome.message}`);
    await this.report(obj, 'DEPLOY', outcome);
    return 'applied';
  }

  private async remove(obj: DeploymentObject, mode: PassMode): Promise<PassOutcome> {
    const { local, names, applier } = this.deps;
    const entry = local.get(obj.stack_id);
    const name = entry?.name ?? names.lookup(obj.stack_id) ?? obj.stack_id;
    if (!entry) {
      // Never applied here (or already removed): nothing on this side to undo.
      if (mode === 'full') return 'skipped';
      await this.report(obj, 'DELETE', { ok: true, message: `nothing to remove: stack ${name} was not applied by this agent` });
      return 'removed';
    }
    const lastContent = (await local.lastContent(obj.stack_id)) ?? '';
    const outcome = await applier.remove({ stackId: obj.stack_id, stackName: name, sequenceId: obj.sequence_id, file: entry.file, lastContent });
    if (!outcome.ok) return this.fail(obj, name, 'DELETE', outcome.message);
    await local.forget(obj.stack_id);
    this.succeeded(obj, `${name}: deleted (sequence ${obj.sequence_id}) — ${outcome.message}`);
    await this.report(obj, 'DELETE', outcome);
    return 'removed';
  }

  private async fail(obj: DeploymentObject, name: string, type: EventReport['event_type'], message: string): Promise<PassOutcome> {
    const { attempts, delayMs, newMessage } = this.deps.retries.failed(obj.id, message);
    const retry = `retrying in ${(delayMs / 1000).toFixed(1)}s`;
    // One line per distinct failure, not one per retry: a stuck apply should not flood the log.
    if (newMessage) this.deps.logger.error(`${name}: ${type} of sequence ${obj.sequence_id} failed (attempt ${attempts}, ${retry}): ${message}`);
    await this.report(obj, type, { ok: false, message });
    return 'failed';
  }

  private succeeded(obj: DeploymentObject, line: string): void {
    const failedBefore = this.deps.retries.succeeded(obj.id);
    this.deps.logger.info(failedBefore > 0 ? `${line} (after ${failedBefore} failed attempt${failedBefore > 1 ? 's' : ''})` : line);
  }

  /**
   * Network and auth failures propagate (the loop reconnects or stops); a 4xx about this one
   * event (e.g. the object was hard-deleted meanwhile) is logged and does not stop the pass.
   */
  private async report(obj: DeploymentObject, type: EventReport['event_type'], outcome: Outcome): Promise<void> {
    try {
      await this.deps.api.reportEvent(this.deps.agentId, {
        deployment_object_id: obj.id,
        event_type: type,
        status: outcome.ok ? 'SUCCESS' : 'FAILURE',
        message: outcome.message,
      });
    } catch (err) {
      if (err instanceof AgentApiError && err.kind === 'client') {
        this.deps.logger.warn(`could not report ${type} ${outcome.ok ? 'SUCCESS' : 'FAILURE'} for object ${obj.id}: ${err.message}`);
        return;
      }
      throw err;
    }
  }
}

type PassOutcome = 'applied' | 'removed' | 'failed' | 'deferred' | 'skipped';
