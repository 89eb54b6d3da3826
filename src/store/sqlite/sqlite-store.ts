/** SqliteStore: the Store interface over one SQLite file; each method delegates to the module owning that concern. */
import type { Agent, AgentEvent, DeploymentHealth, AgentTarget, DeploymentObject, Generator, Stack, SyncError, SyncState } from '../records.js';
import type {
  NameHolder,
  AgentAssociationInputs,
  Annotation,
  ChangeListener,
  CommitObject,
  HealthQuery,
  HealthReport,
  ObjectRef,
  CommitPlan,
  HeartbeatReport,
  CommitResult,
  EventInput,
  EventQuery,
  Label,
  ObjectWithCommit,
  OwnerKind,
  Principal,
  Repository,
  RepositorySpec,
  StackDetail,
  Store,
  StoreChange,
  SyncedStack,
  SyncLease,
  TargetStateEntry,
} from '../store.js';
import { ChangeHub, changeOfCommit, tagChange } from '../change-hub.js';
import * as audit_ from './audit.js';
import type { AuditContext, AuditEntry, AuditPage, AuditQuery } from '../audit.js';
import { auditEntries as entries } from '../audit-entries.js';
import type { Operator, OperatorRole } from '../operators.js';
import * as agents from './agents.js';
import { applyCommitStreamed } from './apply-commit.js';
import * as auth from './auth.js';
import type { SqliteDb } from './connection.js';
import * as events from './events.js';
import { EventBatch } from './event-batch.js';
import * as health from './health.js';
import * as commits from './commit-reads.js';
import * as sync from './generators-and-sync.js';
import { currentVersion } from './migrator.js';
import * as tags from './owner-tags.js';
import * as stacks from './stacks-and-objects.js';
import * as target from './target-state.js';
import * as leases from './sync-leases.js';
import * as fleet from './fleet-reads.js';
import * as repositories from './repositories.js';
import * as rollouts from './rollouts.js';
import type { MembershipChange, RolloutAction, RolloutStatus } from '../rollout-records.js';
import { releaseChanges } from '../rollout-outcome.js';

/**
 * better-sqlite3 is synchronous: each method runs to completion on the event loop, so a method
 * is atomic with respect to the others; multi-row writes are one transaction inside the module.
 * Changes are announced in process only, right after the write: other processes sharing the
 * file learn nothing (their caches are bounded by age instead); replicas need PostgreSQL.
 */
export class SqliteStore implements Store {
  readonly engine = 'sqlite' as const;
  readonly #hub = new ChangeHub();
  readonly #events: EventBatch;

  constructor(readonly db: SqliteDb) {
    this.#events = new EventBatch(db);
  }

  onChange(listener: ChangeListener): () => void {
    return this.#hub.subscribe(listener);
  }

  /**
   * Run a write and, with an audit context, its audit row in ONE transaction (nested transactions
   * of the write become savepoints): both commit or neither does. No context: the write alone.
   */
  #audited<T>(audit: AuditContext | undefined, write: () => T, entry: (result: T) => AuditEntry | null): T {
    if (!audit) return write();
    return this.db.tx(() => {
      const result = write();
      const e = entry(result);
      if (e) audit_.recordAudit(this.db, audit, e);
      return result;
    });
  }

  /** After a write that may move agents between rollout waves: re-check those rollouts now and announce what they released. */
  #membershipChanged(change: MembershipChange): void {
    for (const c of releaseChanges(rollouts.rolloutsOfMembership(this.db, change))) this.#hub.emit(c);
  }

  /** Run a write, then announce it (only once it committed: a refused write announces nothing). */
  #wrote<T>(result: T, change: StoreChange | null): T {
    if (change) this.#hub.emit(change);
    return result;
  }

  // --- sync leases
  async acquireSyncLease(generatorId: string, holder: string, ttlMs: number): Promise<boolean> {
    return leases.acquireSyncLease(this.db, generatorId, holder, ttlMs);
  }
  async releaseSyncLease(generatorId: string, holder: string): Promise<void> {
    leases.releaseSyncLease(this.db, generatorId, holder);
  }
  async listSyncLeases(): Promise<SyncLease[]> {
    return leases.listSyncLeases(this.db);
  }
  async announceReplica(id: string, ttlMs: number): Promise<number> {
    return leases.announceReplica(this.db, id, ttlMs);
  }
  async withdrawReplica(id: string): Promise<void> {
    leases.withdrawReplica(this.db, id);
  }

  async schemaVersion(): Promise<number> {
    return currentVersion(this.db.raw);
  }
  async close(): Promise<void> {
    this.#events.flush(true);
    this.db.close();
  }

  // --- generators and sync
  async ensureGenerator(name: string, description: string | null): Promise<Generator> {
    return sync.ensureGenerator(this.db, name, description);
  }
  async listGenerators(): Promise<Generator[]> {
    return sync.listGenerators(this.db);
  }
  async getSyncState(generatorId: string): Promise<SyncState | null> {
    return sync.getSyncState(this.db, generatorId);
  }
  async saveSyncTarget(generatorId: string, t: { repo: string; branch: string; root: string }): Promise<SyncState> {
    return sync.saveSyncTarget(this.db, generatorId, t);
  }
  async setSyncFailure(generatorId: string, message: string | null): Promise<void> {
    this.#wrote(sync.setSyncFailure(this.db, generatorId, message), { kind: 'sync' });
  }
  async listSyncStates(): Promise<SyncState[]> {
    return sync.listSyncStates(this.db);
  }
  async listSyncedStacks(generatorId: string): Promise<SyncedStack[]> {
    return sync.listSyncedStacks(this.db, generatorId);
  }
  async stackNamesHeldByOthers(generatorId: string, names: readonly string[]): Promise<Map<string, NameHolder>> {
    return sync.stackNamesHeldByOthers(this.db, generatorId, names);
  }
  async applyCommit(plan: CommitPlan): Promise<CommitResult> {
    const result = await applyCommitStreamed(this.db, plan);
    return this.#wrote(result, changeOfCommit(result));
  }
  async listSyncErrors(generatorId?: string): Promise<SyncError[]> {
    return sync.listSyncErrors(this.db, generatorId);
  }

  // --- repositories
  async saveRepository(spec: RepositorySpec, audit?: AuditContext): Promise<Repository> {
    const saved = this.#audited(audit, () => repositories.saveRepository(this.db, spec), entries.repositorySaved);
    return this.#wrote(saved, { kind: 'repositories' });
  }
  async listRepositories(): Promise<Repository[]> {
    return repositories.listRepositories(this.db);
  }
  async requestSync(generatorId: string): Promise<void> {
    this.#hub.emit({ kind: 'sync-requested', generatorId });
  }
  async removeRepository(generatorId: string, opts: { prune: boolean }, audit?: AuditContext): Promise<void> {
    const name = audit ? (repositories.listRepositories(this.db).find((r) => r.generator_id === generatorId)?.name ?? null) : null;
    this.#audited(
      audit,
      () => repositories.removeRepository(this.db, generatorId, opts.prune),
      () => entries.repositoryRemoved(generatorId, name, opts.prune),
    );
    this.#hub.emit({ kind: 'repositories' });
    if (opts.prune) this.#hub.emit({ kind: 'stacks' });
  }

  // --- auth
  async findPrincipal(pakHash: string): Promise<Principal | null> {
    return auth.findPrincipal(this.db, pakHash);
  }
  async setAdminPakHash(pakHash: string): Promise<void> {
    this.#wrote(auth.setAdminPakHash(this.db, pakHash), { kind: 'auth', agentId: null });
  }
  async addAdminPakHashIfNone(pakHash: string): Promise<boolean> {
    const added = auth.addAdminPakHashIfNone(this.db, pakHash);
    return this.#wrote(added, added ? { kind: 'auth', agentId: null } : null);
  }
  async hasAdminPak(): Promise<boolean> {
    return auth.hasAdminPak(this.db);
  }

  // --- operators
  async createOperator(input: { name: string; role: OperatorRole; pak_hash: string }, audit?: AuditContext): Promise<Operator> {
    return this.#audited(audit, () => auth.createOperator(this.db, input), entries.operatorCreated);
  }
  async listOperators(): Promise<Operator[]> {
    return auth.listOperators(this.db);
  }
  async revokeOperator(name: string, audit?: AuditContext): Promise<Operator> {
    const revoked = this.db.tx(() => this.#audited(audit, () => auth.revokeOperator(this.db, name), entries.operatorRevoked));
    return this.#wrote(revoked, { kind: 'auth', agentId: null });
  }
  async touchOperator(id: string): Promise<void> {
    auth.touchOperator(this.db, id);
  }

  // --- agents
  async createAgent(
    input: { name: string; cluster_name: string; pak_hash: string; labels?: string[]; annotations?: Record<string, string> },
    audit?: AuditContext,
  ): Promise<Agent> {
    const labels = input.labels ?? [];
    const annotations = input.annotations ?? {};
    const agent = this.db.tx(() => {
      const created = agents.createAgent(this.db, input);
      for (const label of labels) tags.addLabel(this.db, 'agent', created.id, label);
      for (const [key, value] of Object.entries(annotations)) tags.setAnnotation(this.db, 'agent', created.id, key, value);
      if (audit) audit_.recordAudit(this.db, audit, entries.agentCreated(created, labels, annotations));
      return agents.getAgent(this.db, created.id) ?? created;
    });
    return this.#wrote(agent, { kind: 'agent', agentId: agent.id });
  }
  async getAgent(id: string, opts?: { includeDeleted?: boolean }): Promise<Agent | null> {
    return agents.getAgent(this.db, id, opts);
  }
  async listAgents(filter?: { name?: string; cluster_name?: string; includeDeleted?: boolean }): Promise<Agent[]> {
    return agents.listAgents(this.db, filter);
  }
  async updateAgent(id: string, patch: { name?: string; cluster_name?: string; status?: string }, audit?: AuditContext): Promise<Agent> {
    const agent = this.#audited(audit, () => agents.updateAgent(this.db, id, patch), (a) => entries.agentUpdated(a, patch));
    return this.#wrote(agent, { kind: 'auth', agentId: id });
  }
  async setAgentPakHash(id: string, pakHash: string, audit?: AuditContext): Promise<Agent> {
    return this.#wrote(this.#audited(audit, () => agents.setAgentPakHash(this.db, id, pakHash), entries.agentPakRotated), { kind: 'auth', agentId: id });
  }
  /** Not announced: a heartbeat changes no target state, and thousands of agents send them. */
  async recordHeartbeat(id: string, report?: HeartbeatReport): Promise<void> {
    await this.db.txWhenFree(() => agents.recordHeartbeat(this.db, id, report));
  }
  async softDeleteAgent(id: string, audit?: AuditContext): Promise<void> {
    const before = audit ? agents.getAgent(this.db, id) : null;
    this.#wrote(
      this.#audited(audit, () => agents.softDeleteAgent(this.db, id), () => entries.agentDeleted(id, before)),
      { kind: 'auth', agentId: id },
    );
    this.#membershipChanged({ agentId: id });
  }

  // --- labels, annotations, targets
  async listLabels(kind: OwnerKind, ownerId: string): Promise<Label[]> {
    return tags.listLabels(this.db, kind, ownerId);
  }
  async addLabel(kind: OwnerKind, ownerId: string, label: string, audit?: AuditContext): Promise<Label> {
    const added = this.#audited(audit, () => tags.addLabel(this.db, kind, ownerId, label), () => entries.labelAdded(kind, ownerId, label));
    this.#membershipChanged(kind === 'agent' ? { agentId: ownerId, label } : { stackId: ownerId });
    return this.#wrote(added, tagChange(kind, ownerId));
  }
  async removeLabel(kind: OwnerKind, ownerId: string, label: string, audit?: AuditContext): Promise<boolean> {
    const removed = this.#audited(audit, () => tags.removeLabel(this.db, kind, ownerId, label), (r) => (r ? entries.labelRemoved(kind, ownerId, label) : null));
    if (removed) this.#membershipChanged(kind === 'agent' ? { agentId: ownerId, label } : { stackId: ownerId });
    return this.#wrote(removed, tagChange(kind, ownerId));
  }
  async listAnnotations(kind: OwnerKind, ownerId: string): Promise<Annotation[]> {
    return tags.listAnnotations(this.db, kind, ownerId);
  }
  async setAnnotation(kind: OwnerKind, ownerId: string, key: string, value: string, audit?: AuditContext): Promise<Annotation> {
    const set = this.#audited(audit, () => tags.setAnnotation(this.db, kind, ownerId, key, value), () => entries.annotationSet(kind, ownerId, key, value));
    this.#membershipChanged(kind === 'agent' ? { agentId: ownerId, annotationKey: key } : { stackId: ownerId });
    return this.#wrote(set, tagChange(kind, ownerId));
  }
  async removeAnnotation(kind: OwnerKind, ownerId: string, key: string, audit?: AuditContext): Promise<boolean> {
    const removed = this.#audited(audit, () => tags.removeAnnotation(this.db, kind, ownerId, key), (r) => (r ? entries.annotationRemoved(kind, ownerId, key) : null));
    if (removed) this.#membershipChanged(kind === 'agent' ? { agentId: ownerId, annotationKey: key } : { stackId: ownerId });
    return this.#wrote(removed, tagChange(kind, ownerId));
  }
  async listTargets(agentId: string): Promise<AgentTarget[]> {
    return agents.listTargets(this.db, agentId);
  }
  async addTarget(agentId: string, stackId: string, audit?: AuditContext): Promise<AgentTarget> {
    const added = this.#audited(audit, () => agents.addTarget(this.db, agentId, stackId), () => entries.targetAdded(agentId, stackId));
    this.#membershipChanged({ agentId, stackId });
    return this.#wrote(added, { kind: 'agent', agentId });
  }
  async removeTarget(agentId: string, stackId: string, audit?: AuditContext): Promise<boolean> {
    const removed = this.#audited(audit, () => agents.removeTarget(this.db, agentId, stackId), (r) => (r ? entries.targetRemoved(agentId, stackId) : null));
    if (removed) this.#membershipChanged({ agentId, stackId });
    return this.#wrote(removed, removed ? { kind: 'agent', agentId } : null);
  }

  // --- stacks and objects
  async listStacks(opts?: { includeDeleted?: boolean }): Promise<StackDetail[]> {
    return stacks.listStacks(this.db, opts);
  }
  async getStack(id: string): Promise<StackDetail | null> {
    return stacks.getStack(this.db, id);
  }
  async listAgentStacks(agentId: string): Promise<Stack[]> {
    return target.listAgentStacks(this.db, agentId);
  }
  async isStackAssociated(agentId: string, stackId: string): Promise<boolean> {
    return target.isStackAssociated(this.db, agentId, stackId);
  }
  async listObjects(stackId: string, opts?: { limit?: number }): Promise<ObjectWithCommit[]> {
    return stacks.listObjects(this.db, stackId, opts);
  }
  async getObject(id: string): Promise<ObjectWithCommit | null> {
    return stacks.getObject(this.db, id);
  }
  async getObjects(ids: string[]): Promise<DeploymentObject[]> {
    return stacks.getObjects(this.db, ids);
  }
  async targetStateIds(agentId: string, mode: 'incremental' | 'full'): Promise<TargetStateEntry[]> {
    return target.targetStateIds(this.db, agentId, mode);
  }

  // --- events
  async createEvent(input: EventInput): Promise<AgentEvent> {
    const event = await this.#events.add(input); // group commit: see event-batch.ts
    // A released wave concerns its agents, which may not hold the stack yet: they are named.
    for (const change of releaseChanges(event.rolloutChanged)) this.#hub.emit(change);
    return this.#wrote(event, { kind: 'agent', agentId: input.agent_id });
  }
  async getEvent(id: string): Promise<AgentEvent | null> {
    return events.getEvent(this.db, id);
  }

  // --- progressive delivery
  async getRollout(stackId: string): Promise<RolloutStatus> {
    return rollouts.rolloutStatus(this.db, stackId);
  }
  async rolloutAction(stackId: string, action: RolloutAction, audit?: AuditContext): Promise<RolloutStatus> {
    this.#audited(audit, () => rollouts.rolloutAction(this.db, stackId, action), () => entries.rolloutAction(stackId, action));
    this.#hub.emit({ kind: 'stacks' });
    return rollouts.rolloutStatus(this.db, stackId);
  }
  async rollback(
    stackId: string,
    toSequence: number,
    actor: string,
    audit?: AuditContext,
  ): Promise<{ object: { id: string; sequence_id: number }; rollout: RolloutStatus }> {
    const object = this.#audited(audit, () => rollouts.rollback(this.db, stackId, toSequence, actor), (o) => entries.rollback(stackId, toSequence, o));
    this.#hub.emit({ kind: 'stacks' });
    return { object, rollout: rollouts.rolloutStatus(this.db, stackId) };
  }
  async listEvents(query?: EventQuery): Promise<AgentEvent[]> {
    return events.listEvents(this.db, query);
  }

  // --- deployment health and commits
  /** Announced as the agent's change: its views (and CI's wait) re-read, no target state moves. */
  async reportHealth(agentId: string, reports: readonly HealthReport[]): Promise<DeploymentHealth[]> {
    const rows = health.reportHealth(this.db, agentId, reports);
    // A wave released by a `gate: healthy` rollout concerns its agents, which may not hold the stack yet: they are named.
    for (const change of releaseChanges(rows.rolloutChanged)) this.#hub.emit(change);
    return this.#wrote(rows, { kind: 'agent', agentId });
  }
  async listHealth(query: HealthQuery): Promise<DeploymentHealth[]> {
    return health.listHealth(this.db, query);
  }
  async findCommitObjects(shaPrefix: string): Promise<CommitObject[]> {
    return commits.findCommitObjects(this.db, shaPrefix);
  }
  async listStackAgents(stackId: string): Promise<Agent[]> {
    return commits.listStackAgents(this.db, stackId);
  }
  async listStackObjectsFrom(stackId: string, fromSequence: number): Promise<ObjectRef[]> {
    return commits.listStackObjectsFrom(this.db, stackId, fromSequence);
  }

  // --- fleet-wide reads
  async agentAssociationInputs(): Promise<AgentAssociationInputs[]> {
    return fleet.agentAssociationInputs(this.db);
  }
  async fullTargetStates(): Promise<Map<string, TargetStateEntry[]>> {
    return fleet.fullTargetStates(this.db);
  }

  // --- audit log
  async listAuditLogs(query?: AuditQuery): Promise<AuditPage> {
    return audit_.listAuditLogs(this.db, query);
  }
  async recordAudit(audit: AuditContext, entry: AuditEntry): Promise<void> {
    this.#audited(audit, () => undefined, () => entry);
  }

  // --- operations
  async countAgentsByStatus(): Promise<Record<string, number>> {
    return agents.countAgentsByStatus(this.db);
  }
  async agentDeliverySummary(): Promise<{ agent_id: string; pending: number; failed: number }[]> {
    return target.agentDeliverySummary(this.db);
  }
}

