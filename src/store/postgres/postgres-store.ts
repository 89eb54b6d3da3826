/** PostgresStore: the Store interface over a PostgreSQL database shared by any number of replicas. */
import { randomUUID } from 'node:crypto';
import * as repositories from './repositories.js';
import { PgEventBatch } from './event-batch.js';
import type { EventOutcome, WrittenEvent } from './events.js';
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
  CommitResult,
  EventInput,
  EventQuery,
  HeartbeatReport,
  Label,
  ObjectWithCommit,
  OwnerKind,
  Principal,
  StackDetail,
  Store,
  StoreChange,
  Repository,
  RepositorySpec,
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
import { applyCommit } from './apply-commit.js';
import * as auth from './auth.js';
import { CHANGE_CHANNEL, ChangeSubscription, changePayload } from './change-channel.js';
import * as events from './events.js';
import * as rollouts from './rollouts.js';
import type { MembershipChange, RolloutAction, RolloutStatus } from '../rollout-records.js';
import { releaseChanges, type RolloutOutcome } from '../rollout-outcome.js';
import * as health from './health.js';
import * as commits from './commit-reads.js';
import * as fleet from './fleet-reads.js';
import * as sync from './generators-and-sync.js';
import { currentPgVersion } from './migrator.js';
import * as tags from './owner-tags.js';
import { clientConfig, literal, type PgDb, type Sql } from './pg-db.js';
import * as stacks from './stacks-and-objects.js';
import * as leases from './sync-leases.js';
import * as target from './target-state.js';

/** The change announcement of a write: a literal statement, sent with the COMMIT (PgDb.tx's `last`). */
const notifyAll = (payloads: readonly string[]) => `SELECT pg_notify(${literal(CHANGE_CHANNEL)}, p) FROM unnest(ARRAY[${payloads.map(literal).join(', ')}]::text[]) AS p`;

/**
 * Every write that changes more than one row, or that is announced, is one transaction. The
 * announcement is a pg_notify issued inside that transaction: PostgreSQL delivers it to every
 * replica's LISTEN connection on COMMIT and drops it on ROLLBACK, so no replica ever hears of a
 * write that did not happen. This store's own listeners hear it right after COMMIT, directly
 * (their echo through LISTEN is recognised by origin and skipped).
 */
export class PostgresStore implements Store {
  readonly engine = 'postgres' as const;
  readonly #hub = new ChangeHub();
  /** Tells this store's own notifications apart from other replicas'. */
  readonly #origin = randomUUID();
  readonly #subscription: ChangeSubscription;

  private constructor(readonly db: PgDb) {
    this.#subscription = new ChangeSubscription(clientConfig(db.url), this.#origin, (change) => this.#hub.emit(change));
  }

  /** A store on a migrated database, already listening for other replicas' changes. */
  static async open(db: PgDb): Promise<PostgresStore> {
    const store = new PostgresStore(db);
    await store.#subscription.start();
    return store;
  }

  onChange(listener: ChangeListener): () => void {
    return this.#hub.subscribe(listener);
  }

  /** Whether the LISTEN connection is up (it reconnects by itself). */
  get listening(): boolean {
    return this.#subscription.connected;
  }

  /** Run fn in a transaction; announce what `change` makes of its result, to the other replicas on commit and here after it. */
  async #write<T>(fn: (sql: Sql) => Promise<T>, change: (result: T) => StoreChange | StoreChange[] | null): Promise<T> {
    let announced: StoreChange[] = [];
    const result = await this.db.tx(fn, (r) => {
      const c = change(r);
      announced = c === null ? [] : Array.isArray(c) ? c : [c];
      // One statement for all of them (a batch of events announces each of its agents), sent with the COMMIT.
      return announced.length > 0 ? notifyAll(announced.map((a) => changePayload(this.#origin, a))) : null;
    });
    for (const a of announced) this.#hub.emit(a);
    return result;
  }

  /** fn, then (with an audit context) its audit row, on the same transaction's sql: they commit or roll back together. */
  #audited<T>(audit: AuditContext | undefined, fn: (sql: Sql) => Promise<T>, entry: (result: T) => AuditEntry | null): (sql: Sql) => Promise<T> {
    return async (sql) => {
      const result = await fn(sql);
      const e = audit ? entry(result) : null;
      if (e) await audit_.recordAudit(sql, audit, e);
      return result;
    };
  }

  /**
   * A write that may move agents between rollout waves: in its transaction, re-check the rollouts
   * it may have moved (rollouts.rolloutsOfMembership), and announce what they released with it.
   */
  async #writeMoving<T>(moved: MembershipChange, fn: (sql: Sql) => Promise<T>, change: (result: T) => StoreChange | StoreChange[] | null): Promise<T> {
    let outcome: RolloutOutcome | null = null;
    return this.#write(
      async (sql) => {
        const result = await fn(sql);
        outcome = await rollouts.rolloutsOfMembership(sql, moved);
        return result;
      },
      (result) => [...releaseChanges(outcome), ...[change(result) ?? []].flat()],
    );
  }

  async schemaVersion(): Promise<number> {
    return currentPgVersion(this.db.pool);
  }
  #closing: Promise<void> | null = null;

  /** Idempotent, as on SQLite: a second close waits for the first. */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      await this.#events.drain();
      await this.#subscription.close();
      await this.db.close();
    })());
  }

  // --- sync leases
  async acquireSyncLease(generatorId: string, holder: string, ttlMs: number): Promise<boolean> {
    return leases.acquireSyncLease(this.db, generatorId, holder, ttlMs);
  }
  async releaseSyncLease(generatorId: string, holder: string): Promise<void> {
    await leases.releaseSyncLease(this.db, generatorId, holder);
  }
  async listSyncLeases(): Promise<SyncLease[]> {
    return leases.listSyncLeases(this.db);
  }
  async announceReplica(id: string, ttlMs: number): Promise<number> {
    return this.db.tx((sql) => leases.announceReplica(sql, id, ttlMs));
  }
  async withdrawReplica(id: string): Promise<void> {
    await leases.withdrawReplica(this.db, id);
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
    return this.#write((sql) => sync.saveSyncTarget(sql, generatorId, t), () => null);
  }
  async setSyncFailure(generatorId: string, message: string | null): Promise<void> {
    await this.#write((sql) => sync.setSyncFailure(sql, generatorId, message), () => ({ kind: 'sync' }));
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
    return this.#write((sql) => applyCommit(sql, plan), changeOfCommit);
  }
  // --- repositories
  async saveRepository(spec: RepositorySpec, audit?: AuditContext): Promise<Repository> {
    return this.#write(this.#audited(audit, (sql) => repositories.saveRepository(sql, spec), entries.repositorySaved), () => ({ kind: 'repositories' }));
  }
  async listRepositories(): Promise<Repository[]> {
    return repositories.listRepositories(this.db);
  }
  /** Nothing is written: the transaction only carries the NOTIFY to every replica. */
  async requestSync(generatorId: string): Promise<void> {
    await this.#write(async () => undefined, () => ({ kind: 'sync-requested', generatorId }));
  }
  async removeRepository(generatorId: string, opts: { prune: boolean }, audit?: AuditContext): Promise<void> {
    await this.#write(
      async (sql) => {
        const name = audit ? ((await repositories.listRepositories(sql)).find((r) => r.generator_id === generatorId)?.name ?? null) : null;
        await this.#audited(audit, (s) => repositories.removeRepository(s, generatorId, opts.prune), () => entries.repositoryRemoved(generatorId, name, opts.prune))(sql);
      },
      () => (opts.prune ? [{ kind: 'repositories' }, { kind: 'stacks' }] : { kind: 'repositories' }),
    );
  }

  async listSyncErrors(generatorId?: string): Promise<SyncError[]> {
    return sync.listSyncErrors(this.db, generatorId);
  }

  // --- auth
  async findPrincipal(pakHash: string): Promise<Principal | null> {
    return auth.findPrincipal(this.db, pakHash);
  }
  async setAdminPakHash(pakHash: string): Promise<void> {
    await this.#write((sql) => auth.setAdminPakHash(sql, pakHash), () => ({ kind: 'auth', agentId: null }));
  }
  async addAdminPakHashIfNone(pakHash: string): Promise<boolean> {
    return this.#write((sql) => auth.addAdminPakHashIfNone(sql, pakHash), (added) => (added ? { kind: 'auth', agentId: null } : null));
  }
  async hasAdminPak(): Promise<boolean> {
    return auth.hasAdminPak(this.db);
  }

  // --- operators
  async createOperator(input: { name: string; role: OperatorRole; pak_hash: string }, audit?: AuditContext): Promise<Operator> {
    return this.#write(this.#audited(audit, (sql) => auth.createOperator(sql, input), entries.operatorCreated), () => null);
  }
  async listOperators(): Promise<Operator[]> {
    return auth.listOperators(this.db);
  }
  /** Announced as an auth change: every replica drops its cached principals, so the PAK stops at once everywhere. */
  async revokeOperator(name: string, audit?: AuditContext): Promise<Operator> {
    return this.#write(this.#audited(audit, (sql) => auth.revokeOperator(sql, name), entries.operatorRevoked), () => ({ kind: 'auth', agentId: null }));
  }
  async touchOperator(id: string): Promise<void> {
    await auth.touchOperator(this.db, id);
  }

  // --- agents
  async createAgent(
    input: { name: string; cluster_name: string; pak_hash: string; labels?: string[]; annotations?: Record<string, string> },
    audit?: AuditContext,
  ): Promise<Agent> {
    const labels = input.labels ?? [];
    const annotations = input.annotations ?? {};
    return this.#write(
      async (sql) => {
        const created = await agents.createAgent(sql, input);
        for (const label of labels) await tags.addLabel(sql, 'agent', created.id, label);
        for (const [key, value] of Object.entries(annotations)) await tags.setAnnotation(sql, 'agent', created.id, key, value);
        if (audit) await audit_.recordAudit(sql, audit, entries.agentCreated(created, labels, annotations));
        return (await agents.getAgent(sql, created.id)) ?? created;
      },
      (agent) => ({ kind: 'agent', agentId: agent.id }),
    );
  }
  async getAgent(id: string, opts?: { includeDeleted?: boolean }): Promise<Agent | null> {
    return agents.getAgent(this.db, id, opts);
  }
  async listAgents(filter?: { name?: string; cluster_name?: string; includeDeleted?: boolean }): Promise<Agent[]> {
    return agents.listAgents(this.db, filter);
  }
  async updateAgent(id: string, patch: { name?: string; cluster_name?: string; status?: string }, audit?: AuditContext): Promise<Agent> {
    return this.#write(this.#audited(audit, (sql) => agents.updateAgent(sql, id, patch), (a) => entries.agentUpdated(a, patch)), () => ({ kind: 'auth', agentId: id }));
  }
  async setAgentPakHash(id: string, pakHash: string, audit?: AuditContext): Promise<Agent> {
    return this.#write(this.#audited(audit, (sql) => agents.setAgentPakHash(sql, id, pakHash), entries.agentPakRotated), () => ({ kind: 'auth', agentId: id }));
  }
  /** Not announced: a heartbeat changes no target state, and thousands of agents send them. */
  async recordHeartbeat(id: string, report?: HeartbeatReport): Promise<void> {
    await agents.recordHeartbeat(this.db, id, report);
  }
  async softDeleteAgent(id: string, audit?: AuditContext): Promise<void> {
    await this.#writeMoving(
      { agentId: id },
      async (sql) => {
        const before = audit ? await agents.getAgent(sql, id) : null;
        await this.#audited(audit, (s) => agents.softDeleteAgent(s, id), () => entries.agentDeleted(id, before))(sql);
      },
      () => ({ kind: 'auth', agentId: id }),
    );
  }

  // --- labels, annotations, targets
  async listLabels(kind: OwnerKind, ownerId: string): Promise<Label[]> {
    return tags.listLabels(this.db, kind, ownerId);
  }
  async addLabel(kind: OwnerKind, ownerId: string, label: string, audit?: AuditContext): Promise<Label> {
    return this.#writeMoving(
      kind === 'agent' ? { agentId: ownerId, label } : { stackId: ownerId },
      this.#audited(audit, (sql) => tags.addLabel(sql, kind, ownerId, label), () => entries.labelAdded(kind, ownerId, label)),
      () => tagChange(kind, ownerId),
    );
  }
  async removeLabel(kind: OwnerKind, ownerId: string, label: string, audit?: AuditContext): Promise<boolean> {
    return this.#writeMoving(
      kind === 'agent' ? { agentId: ownerId, label } : { stackId: ownerId },
      this.#audited(audit, (sql) => tags.removeLabel(sql, kind, ownerId, label), (r) => (r ? entries.labelRemoved(kind, ownerId, label) : null)),
      () => tagChange(kind, ownerId),
    );
  }
  async listAnnotations(kind: OwnerKind, ownerId: string): Promise<Annotation[]> {
    return tags.listAnnotations(this.db, kind, ownerId);
  }
  async setAnnotation(kind: OwnerKind, ownerId: string, key: string, value: string, audit?: AuditContext): Promise<Annotation> {
    return this.#writeMoving(
      kind === 'agent' ? { agentId: ownerId, annotationKey: key } : { stackId: ownerId },
      this.#audited(audit, (sql) => tags.setAnnotation(sql, kind, ownerId, key, value), () => entries.annotationSet(kind, ownerId, key, value)),
      () => tagChange(kind, ownerId),
    );
  }
  async removeAnnotation(kind: OwnerKind, ownerId: string, key: string, audit?: AuditContext): Promise<boolean> {
    return this.#writeMoving(
      kind === 'agent' ? { agentId: ownerId, annotationKey: key } : { stackId: ownerId },
      this.#audited(audit, (sql) => tags.removeAnnotation(sql, kind, ownerId, key), (r) => (r ? entries.annotationRemoved(kind, ownerId, key) : null)),
      () => tagChange(kind, ownerId),
    );
  }
  async listTargets(agentId: string): Promise<AgentTarget[]> {
    return agents.listTargets(this.db, agentId);
  }
  async addTarget(agentId: string, stackId: string, audit?: AuditContext): Promise<AgentTarget> {
    return this.#writeMoving(
      { agentId, stackId },
      this.#audited(audit, (sql) => agents.addTarget(sql, agentId, stackId), () => entries.targetAdded(agentId, stackId)),
      () => ({ kind: 'agent', agentId }),
    );
  }
  async removeTarget(agentId: string, stackId: string, audit?: AuditContext): Promise<boolean> {
    return this.#writeMoving(
      { agentId, stackId },
      this.#audited(audit, (sql) => agents.removeTarget(sql, agentId, stackId), (r) => (r ? entries.targetRemoved(agentId, stackId) : null)),
      (removed) => (removed ? { kind: 'agent', agentId } : null),
    );
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
    return this.#events.add(input);
  }

  /**
   * What written events announce: each agent that reported, once, and the agents of any wave they
   * released (which may not hold the stack yet, so they are named).
   */
  static #eventChanges(written: readonly WrittenEvent[]): StoreChange[] {
    const agents = new Set(written.map((e) => e.agent_id));
    return [...written.flatMap((e) => releaseChanges(e.rolloutChanged)), ...[...agents].map((agentId): StoreChange => ({ kind: 'agent', agentId }))];
  }
  /** What a batch's outcomes announce: those of the events it wrote. */
  static #outcomeChanges(outcomes: readonly EventOutcome[]): StoreChange[] {
    return PostgresStore.#eventChanges(outcomes.flatMap((o) => ('event' in o ? [o.event] : [])));
  }

  /**
   * Group commit of events (event-batch.ts): without a rollout on their objects, one statement that
   * commits by itself, its announcements in it — no BEGIN and COMMIT round trips (each a socket
   * write and a wake-up of the API's event loop; ~200 batches a second at 1,000 reports); with one,
   * one transaction, event by event.
   */
  readonly #events = new PgEventBatch(
    async (inputs) => {
      const alone = await events.createEventsAlone(this.db, inputs, CHANGE_CHANNEL, (agentId) => changePayload(this.#origin, { kind: 'agent', agentId }));
      if (alone) {
        for (const change of PostgresStore.#outcomeChanges(alone)) this.#hub.emit(change);
        return alone;
      }
      return this.#write(
        (sql) => events.createEvents(sql, inputs),
        (outcomes) => PostgresStore.#outcomeChanges(outcomes),
      );
    },
    (input) => this.#write((sql) => events.createEvent(sql, input), (event) => PostgresStore.#eventChanges([event])),
  );

  async getEvent(id: string): Promise<AgentEvent | null> {
    return events.getEvent(this.db, id);
  }

  // --- progressive delivery
  async getRollout(stackId: string): Promise<RolloutStatus> {
    return rollouts.rolloutStatus(this.db, stackId);
  }
  async rolloutAction(stackId: string, action: RolloutAction, audit?: AuditContext): Promise<RolloutStatus> {
    await this.#write(this.#audited(audit, (sql) => rollouts.rolloutAction(sql, stackId, action), () => entries.rolloutAction(stackId, action)), () => ({ kind: 'stacks' }));
    return rollouts.rolloutStatus(this.db, stackId);
  }
  async rollback(
    stackId: string,
    toSequence: number,
    actor: string,
    audit?: AuditContext,
  ): Promise<{ object: { id: string; sequence_id: number }; rollout: RolloutStatus }> {
    const object = await this.#write(
      this.#audited(audit, (sql) => rollouts.rollback(sql, stackId, toSequence, actor), (o) => entries.rollback(stackId, toSequence, o)),
      () => ({ kind: 'stacks' }),
    );
    return { object, rollout: await rollouts.rolloutStatus(this.db, stackId) };
  }
  async listEvents(query?: EventQuery): Promise<AgentEvent[]> {
    return events.listEvents(this.db, query);
  }

  // --- deployment health and commits
  /** Announced as the agent's change (its views and CI's wait re-read); when a `gate: healthy` rollout released a wave, to that wave's agents too. */
  async reportHealth(agentId: string, reports: readonly HealthReport[]): Promise<DeploymentHealth[]> {
    return this.#write(
      (sql) => health.reportHealth(sql, agentId, reports),
      // A wave released by a `gate: healthy` rollout concerns its agents, which may not hold the stack yet: they are named.
      (rows) => [...releaseChanges(rows.rolloutChanged), { kind: 'agent', agentId }],
    );
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

  // --- audit log
  async listAuditLogs(query?: AuditQuery): Promise<AuditPage> {
    return audit_.listAuditLogs(this.db, query);
  }
  async recordAudit(audit: AuditContext, entry: AuditEntry): Promise<void> {
    await this.#write(this.#audited(audit, async () => undefined, () => entry), () => null);
  }

  // --- operations
  async countAgentsByStatus(): Promise<Record<string, number>> {
    return agents.countAgentsByStatus(this.db);
  }
  async agentDeliverySummary(): Promise<{ agent_id: string; pending: number; failed: number }[]> {
    return target.agentDeliverySummary(this.db);
  }

  // --- fleet-wide reads for dashboards
  async agentAssociationInputs(): Promise<AgentAssociationInputs[]> {
    return fleet.agentAssociationInputs(this.db);
  }
  async fullTargetStates(): Promise<Map<string, TargetStateEntry[]>> {
    return fleet.fullTargetStates(this.db);
  }
}
