/** SqliteStore: the Store interface over one SQLite file; each method delegates to the module owning that concern. */
import type { Agent, AgentEvent, AgentTarget, DeploymentObject, Generator, Stack, SyncError, SyncState } from '../records.js';
import type {
  Annotation,
  CommitPlan,
  CommitResult,
  EventQuery,
  Label,
  ObjectWithCommit,
  OwnerKind,
  Principal,
  StackDetail,
  Store,
  SyncedStack,
  TargetStateEntry,
} from '../store.js';
import * as agents from './agents.js';
import { applyCommit } from './apply-commit.js';
import * as auth from './auth.js';
import type { SqliteDb } from './connection.js';
import * as events from './events.js';
import * as sync from './generators-and-sync.js';
import { currentVersion } from './migrator.js';
import * as tags from './owner-tags.js';
import * as stacks from './stacks-and-objects.js';
import * as target from './target-state.js';

/**
 * better-sqlite3 is synchronous: each method runs to completion on the event loop, so a method
 * is atomic with respect to the others; multi-row writes are one transaction inside the module.
 */
export class SqliteStore implements Store {
  constructor(readonly db: SqliteDb) {}

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
    sync.setSyncFailure(this.db, generatorId, message);
  }
  async listSyncStates(): Promise<SyncState[]> {
    return sync.listSyncStates(this.db);
  }
  async listSyncedStacks(generatorId: string): Promise<SyncedStack[]> {
    return sync.listSyncedStacks(this.db, generatorId);
  }
  async stackNamesHeldByOthers(generatorId: string, names: readonly string[]): Promise<Set<string>> {
    return sync.stackNamesHeldByOthers(this.db, generatorId, names);
  }
  async applyCommit(plan: CommitPlan): Promise<CommitResult> {
    return applyCommit(this.db, plan);
  }
  async listSyncErrors(generatorId?: string): Promise<SyncError[]> {
    return sync.listSyncErrors(this.db, generatorId);
  }

  // --- auth
  async findPrincipal(pakHash: string): Promise<Principal | null> {
    return auth.findPrincipal(this.db, pakHash);
  }
  async setAdminPakHash(pakHash: string): Promise<void> {
    auth.setAdminPakHash(this.db, pakHash);
  }
  async hasAdminPak(): Promise<boolean> {
    return auth.hasAdminPak(this.db);
  }

  // --- agents
  async createAgent(input: { name: string; cluster_name: string; pak_hash: string }): Promise<Agent> {
    return agents.createAgent(this.db, input);
  }
  async getAgent(id: string, opts?: { includeDeleted?: boolean }): Promise<Agent | null> {
    return agents.getAgent(this.db, id, opts);
  }
  async listAgents(filter?: { name?: string; cluster_name?: string; includeDeleted?: boolean }): Promise<Agent[]> {
    return agents.listAgents(this.db, filter);
  }
  async updateAgent(id: string, patch: { name?: string; cluster_name?: string; status?: string }): Promise<Agent> {
    return agents.updateAgent(this.db, id, patch);
  }
  async setAgentPakHash(id: string, pakHash: string): Promise<Agent> {
    return agents.setAgentPakHash(this.db, id, pakHash);
  }
  async recordHeartbeat(id: string): Promise<void> {
    agents.recordHeartbeat(this.db, id);
  }
  async softDeleteAgent(id: string): Promise<void> {
    agents.softDeleteAgent(this.db, id);
  }

  // --- labels, annotations, targets
  async listLabels(kind: OwnerKind, ownerId: string): Promise<Label[]> {
    return tags.listLabels(this.db, kind, ownerId);
  }
  async addLabel(kind: OwnerKind, ownerId: string, label: string): Promise<Label> {
    return tags.addLabel(this.db, kind, ownerId, label);
  }
  async removeLabel(kind: OwnerKind, ownerId: string, label: string): Promise<boolean> {
    return tags.removeLabel(this.db, kind, ownerId, label);
  }
  async listAnnotations(kind: OwnerKind, ownerId: string): Promise<Annotation[]> {
    return tags.listAnnotations(this.db, kind, ownerId);
  }
  async setAnnotation(kind: OwnerKind, ownerId: string, key: string, value: string): Promise<Annotation> {
    return tags.setAnnotation(this.db, kind, ownerId, key, value);
  }
  async removeAnnotation(kind: OwnerKind, ownerId: string, key: string): Promise<boolean> {
    return tags.removeAnnotation(this.db, kind, ownerId, key);
  }
  async listTargets(agentId: string): Promise<AgentTarget[]> {
    return agents.listTargets(this.db, agentId);
  }
  async addTarget(agentId: string, stackId: string): Promise<AgentTarget> {
    return agents.addTarget(this.db, agentId, stackId);
  }
  async removeTarget(agentId: string, stackId: string): Promise<boolean> {
    return agents.removeTarget(this.db, agentId, stackId);
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
    return events.createEvent(this.db, input);
  }
  async listEvents(query?: EventQuery): Promise<AgentEvent[]> {
    return events.listEvents(this.db, query);
  }

  // --- operations
  async countAgentsByStatus(): Promise<Record<string, number>> {
    return agents.countAgentsByStatus(this.db);
  }
  async agentDeliverySummary(): Promise<{ agent_id: string; pending: number; failed: number }[]> {
    return target.agentDeliverySummary(this.db);
  }
}
