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
import * as audit from './audit.js';
import type { AuditPage, AuditQuery } from '../audit.js';
import * as agents from './agents.js';
import { applyCommit } from './apply-commit.js';
import * as auth from './auth.js';
import type { SqliteDb } from './connection.js';
import * as events from './events.js';
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
import type { RolloutAction, RolloutStatus } from '../rollout-records.js';

/**
 * better-sqlite3 is synchronous: each method runs to completion on the event loop, so a method
 * is atomic with respect to the others; multi-row writes are one transaction inside the module.
 * Changes are announced in process only, right after the write: other processes sharing the
 * file learn nothing (their caches are bounded by age instead); replicas need PostgreSQL.
 */
export class SqliteStore implements Store {
  readonly engine = 'sqlite' as const;
  readonly #hub = new ChangeHub();

  constructor(readonly db: SqliteDb) {}

  onChange(listener: ChangeListener): () => void {
    return this.#hub.subscribe(listener);
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
    const result = applyCommit(this.db, plan);
    return this.#wrote(result, changeOfCommit(result, plan.upserts.filter((u) => u.id === undefined).length));
  }
  async listSyncErrors(generatorId?: string): Promise<SyncError[]> {
    return sync.listSyncErrors(this.db, generatorId);
  }

  // --- repositories
  async saveRepository(spec: RepositorySpec): Promise<Repository> {
    return this.#wrote(repositories.saveRepository(this.db, spec), { kind: 'repositories' });
  }
  async listRepositories(): Promise<Repository[]> {
    return repositories.listRepositories(this.db);
  }
  async requestSync(generatorId: string): Promise<void> {
    this.#hub.emit({ kind: 'sync-requested', generatorId });
  }
  async removeRepository(generatorId: string, opts: { prune: boolean }): Promise<void> {
    repositories.removeRepository(this.db, generatorId, opts.prune);
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

  // --- agents
  async createAgent(input: { name: string; cluster_name: string; pak_hash: string }): Promise<Agent> {
    const agent = agents.createAgent(this.db, input);
    return this.#wrote(agent, { kind: 'agent', agentId: agent.id });
  }
  async getAgent(id: string, opts?: { includeDeleted?: boolean }): Promise<Agent | null> {
    return agents.getAgent(this.db, id, opts);
  }
  async listAgents(filter?: { name?: string; cluster_name?: string; includeDeleted?: boolean }): Promise<Agent[]> {
    return agents.listAgents(this.db, filter);
  }
  async updateAgent(id: string, patch: { name?: string; cluster_name?: string; status?: string }): Promise<Agent> {
    return this.#wrote(agents.updateAgent(this.db, id, patch), { kind: 'auth', agentId: id });
  }
  async setAgentPakHash(id: string, pakHash: string): Promise<Agent> {
    return this.#wrote(agents.setAgentPakHash(this.db, id, pakHash), { kind: 'auth', agentId: id });
  }
  /** Not announced: a heartbeat changes no target state, and thousands of agents send them. */
  async recordHeartbeat(id: string, report?: HeartbeatReport): Promise<void> {
    agents.recordHeartbeat(this.db, id, report);
  }
  async softDeleteAgent(id: string): Promise<void> {
    this.#wrote(agents.softDeleteAgent(this.db, id), { kind: 'auth', agentId: id });
  }

  // --- labels, annotations, targets
  async listLabels(kind: OwnerKind, ownerId: string): Promise<Label[]> {
    return tags.listLabels(this.db, kind, ownerId);
  }
  async addLabel(kind: OwnerKind, ownerId: string, label: string): Promise<Label> {
    return this.#wrote(tags.addLabel(this.db, kind, ownerId, label), tagChange(kind, ownerId));
  }
  async removeLabel(kind: OwnerKind, ownerId: string, label: string): Promise<boolean> {
    return this.#wrote(tags.removeLabel(this.db, kind, ownerId, label), tagChange(kind, ownerId));
  }
  async listAnnotations(kind: OwnerKind, ownerId: string): Promise<Annotation[]> {
    return tags.listAnnotations(this.db, kind, ownerId);
  }
  async setAnnotation(kind: OwnerKind, ownerId: string, key: string, value: string): Promise<Annotation> {
    return this.#wrote(tags.setAnnotation(this.db, kind, ownerId, key, value), tagChange(kind, ownerId));
  }
  async removeAnnotation(kind: OwnerKind, ownerId: string, key: string): Promise<boolean> {
    return this.#wrote(tags.removeAnnotation(this.db, kind, ownerId, key), tagChange(kind, ownerId));
  }
  async listTargets(agentId: string): Promise<AgentTarget[]> {
    return agents.listTargets(this.db, agentId);
  }
  async addTarget(agentId: string, stackId: string): Promise<AgentTarget> {
    return this.#wrote(agents.addTarget(this.db, agentId, stackId), { kind: 'agent', agentId });
  }
  async removeTarget(agentId: string, stackId: string): Promise<boolean> {
    const removed = agents.removeTarget(this.db, agentId, stackId);
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
  async createEvent(input: {
    agent_id: string;
    deployment_object_id: string;
    event_type: string;
    status: string;
    message: string | null;
  }): Promise<AgentEvent> {
    const event = events.createEvent(this.db, input);
    // A released wave or a halt concerns agents that may not hold the stack yet: announce it to all.
    if (event.rolloutChanged) this.#hub.emit({ kind: 'stacks' });
    return this.#wrote(event, { kind: 'agent', agentId: input.agent_id });
  }
  async getEvent(id: string): Promise<AgentEvent | null> {
    return events.getEvent(this.db, id);
  }

  // --- progressive delivery
  async getRollout(stackId: string): Promise<RolloutStatus> {
    return rollouts.rolloutStatus(this.db, stackId);
  }
  async rolloutAction(stackId: string, action: RolloutAction): Promise<RolloutStatus> {
    rollouts.rolloutAction(this.db, stackId, action);
    this.#hub.emit({ kind: 'stacks' });
    return rollouts.rolloutStatus(this.db, stackId);
  }
  async rollback(stackId: string, toSequence: number, actor: string): Promise<{ object: { id: string; sequence_id: number }; rollout: RolloutStatus }> {
    const object = rollouts.rollback(this.db, stackId, toSequence, actor);
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
    // A wave released (or a halt) by a `gate: healthy` rollout concerns agents that may not hold the stack yet.
    if (rows.rolloutChanged) this.#hub.emit({ kind: 'stacks' });
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
    return audit.listAuditLogs(this.db, query);
  }

  // --- operations
  async countAgentsByStatus(): Promise<Record<string, number>> {
    return agents.countAgentsByStatus(this.db);
  }
  async agentDeliverySummary(): Promise<{ agent_id: string; pending: number; failed: number }[]> {
    return target.agentDeliverySummary(this.db);
  }
}

