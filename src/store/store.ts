/**
 * The store interface: everything the rest of the product may ask of the database.
 *
 * All SQL lives behind this interface, one implementation per engine (src/store/sqlite/...,
 * src/store/postgres/...), both held to one contract suite (test/store/). Every method that
 * writes more than one row is one transaction inside the implementation, so callers never hold
 * a transaction open. Every write announces what it changed through `onChange`, to this process
 * and (PostgreSQL) to every other replica on the database: callers never raise notifications.
 */
import type {
  Agent,
  AgentAnnotation,
  AgentEvent,
  AgentLabel,
  AgentTarget,
  CommitInfo,
  DeploymentHealth,
  DeploymentObject,
  Generator,
  HealthStatus,
  Stack,
  StackAnnotation,
  StackLabel,
  SyncError,
  SyncState,
  Uuid,
} from './records.js';
import type { RolloutAction, RolloutConfig, RolloutStatus } from './rollout-records.js';
import type { AuditContext, AuditEntry, AuditPage, AuditQuery } from './audit.js';
import type { Operator, OperatorRole } from './operators.js';

/** Who owns a label/annotation: labels and annotations of stacks and agents share one shape. */
export type OwnerKind = 'stack' | 'agent';

export interface Label {
  id: Uuid;
  owner_id: Uuid;
  label: string;
}
export interface Annotation {
  id: Uuid;
  owner_id: Uuid;
  key: string;
  value: string;
}

/** A live stack of one generator, with what the syncer needs to compare against a commit. */
export interface SyncedStack {
  id: Uuid;
  name: string;
  /** Stack directory relative to the sync root ('' = the root). */
  path: string;
  description: string | null;
  labels: string[];
  annotations: Record<string, string>;
  /** Checksum of the latest non-deleted, non-marker object, null when it has none yet. */
  latest_checksum: string | null;
  /** Its rollout settings (waves, gate, dependsOn); absent or null: none. */
  rollout?: RolloutConfig | null;
}

/** The desired state of one stack after a commit. */
export interface StackUpsert {
  /** Existing stack id, or undefined to create a new stack row. */
  id?: Uuid;
  name: string;
  path: string;
  description: string | null;
  labels: string[];
  annotations: Record<string, string>;
  /**
   * New content: a deployment object is inserted when present. `yaml: null` defers the text to
   * `CommitPlan.readContents` (a large commit streams its contents in batches).
   */
  content?: { yaml: string | null; checksum: string };
  /** Rollout settings from stack.yaml (SPEC §10); absent or null: none, the stack's objects reach every agent at once. */
  rollout?: RolloutConfig | null;
}

/** Everything one commit changes, applied atomically together with the cursor. */
export interface CommitPlan {
  generatorId: Uuid;
  commit: CommitInfo;
  /** The cursor this plan was computed from; applyCommit refuses (CursorMovedError) if it moved. */
  expectedCursor: string | null;
  /**
   * The replica that computed the plan. When set, applyCommit also refuses (LeaseLostError) unless
   * that holder has the generator's unexpired sync lease at commit time: a replica that lost its
   * lease (stalled, cut off from the database) never writes, even if the cursor did not move yet.
   */
  leaseHolder?: string;
  upserts: StackUpsert[];
  /** Stack ids to soft-delete (the trigger inserts the deletion markers). */
  deletes: Uuid[];
  /** Replace the recorded errors of these stack paths; an empty list clears them. */
  errors: { stack_path: string; errors: Omit<SyncError, 'generator_id' | 'created_at'>[] }[];
  /**
   * The YAML of upserts planned with `content.yaml: null`, asked for in batches of at most
   * CONTENT_BATCH_SIZE (src/store/content-batches.ts) while the commit is applied, one string per
   * upsert in order — so a first sync of 100,000 stacks never holds every content at once. The
   * commit stays ONE transaction: nothing of it is visible before all batches are written, and a
   * batch that fails (thrown here, or refused by the database) leaves nothing of the commit behind.
   */
  readContents?: (upserts: readonly StackUpsert[]) => Promise<string[]>;
}

export interface CommitResult {
  /** Every deployment object inserted (new stacks and new content of existing ones), in plan order. */
  created: { stack_id: Uuid; name: string; object_id: Uuid; sequence_id: number }[];
  /** Stacks whose rows changed (name, path, description, labels, annotations), and new stacks without content. */
  updated: { stack_id: Uuid; name: string }[];
  deleted: { stack_id: Uuid; name: string; marker_id: Uuid; sequence_id: number }[];
  /** One entry per plan.upsert, in plan order, each naming the upsert it answers: callers never pair by position or name. */
  written: WrittenStack[];
}

/** What applyCommit wrote for one upsert of the plan. */
export interface WrittenStack {
  /** The plan's upsert itself (the same object). */
  upsert: StackUpsert;
  stack_id: Uuid;
  /** The row was created by this commit (the upsert had no id). */
  new_stack: boolean;
  /** The deployment object its content became; null when the upsert carried no content. */
  object: { object_id: Uuid; sequence_id: number } | null;
}

/** A stack as admins see it. */
export interface StackDetail extends Stack {
  path: string | null;
  labels: string[];
  annotations: Record<string, string>;
  latest_object: { id: Uuid; sequence_id: number; yaml_checksum: string; is_deletion_marker: boolean; submitted_at: string } | null;
  commit: CommitInfo | null;
}

/** A deployment object with the commit it came from (admin views). */
export interface ObjectWithCommit extends DeploymentObject {
  commit: CommitInfo | null;
}

/**
 * Who holds a PAK. Operators (admin PAKs, SPEC §11) carry their name and role: `admin` writes,
 * `readonly` reads what an admin reads and writes nothing. `role` is the one field to key on
 * (access rules, rate limits): admin, readonly, agent, generator.
 */
export type Principal =
  | { role: OperatorRole; name: string; operator_id: Uuid }
  | { role: 'agent'; agent: Agent }
  | { role: 'generator'; generator: Generator };

export interface TargetStateEntry {
  id: Uuid;
  sequence_id: number;
  /** The stack the object belongs to (lets caches tell which agents a commit concerns). */
  stack_id: Uuid;
}

/** Where a repository's Git credentials come from: never the values themselves, which stay in the environment or a file. */
export type RepositoryAuth = { usernameEnv: string; passwordEnv: string } | { sshKeyFile: string };

export const REPOSITORY_ORIGINS = ['config', 'api'] as const;
/** config: listed in `serve --config`; api: added at run time (API or CLI), kept across restarts. */
export type RepositoryOrigin = (typeof REPOSITORY_ORIGINS)[number];

/** A repository the daemon syncs, as the operator declared it (section 9 of the spec). */
export interface RepositorySpec {
  /** 1..64 characters, unique; also its generator's name. */
  name: string;
  url: string;
  /** null: the repository's default (current) branch. */
  branch: string | null;
  root: string;
  /** Seconds between polls; null: 5 for a local repository, 30 for a remote. */
  interval_seconds: number | null;
  webhook_secret: string | null;
  auth: RepositoryAuth | null;
  origin: RepositoryOrigin;
}

export interface Repository extends RepositorySpec {
  generator_id: Uuid;
  created_at: string;
  updated_at: string;
}

/** Where a live stack name is held: the other repository (its generator's name) and the stack's path there. */
export interface NameHolder {
  repository: string;
  path: string | null;
}

/** What decides an agent's associations: its labels, annotations and explicit targets. */
export interface AgentAssociationInputs {
  agent_id: Uuid;
  labels: string[];
  annotations: Record<string, string>;
  /** Stack ids, sorted. */
  targets: Uuid[];
}

export interface EventInput {
  agent_id: Uuid;
  deployment_object_id: Uuid;
  event_type: string;
  status: string;
  message: string | null;
  require_association?: boolean;
}

export interface EventQuery {
  agentId?: Uuid;
  deploymentObjectId?: Uuid;
  limit?: number;
}

/** Thrown for a unique-constraint violation (mapped to HTTP 409). */
export class ConflictError extends Error {
  override name = 'ConflictError';
}
/** Thrown when a referenced row does not exist (mapped to HTTP 404). */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}
/** Thrown when an agent reports on an object of a stack it does not hold (mapped to HTTP 403). */
export class NotAssociatedError extends Error {
  override name = 'NotAssociatedError';
  constructor(agentId: string, objectId: string) {
    super(`deployment object ${objectId} belongs to a stack that is not associated with agent ${agentId}`);
  }
}
/** Thrown by applyCommit when another writer advanced the cursor first. */
export class CursorMovedError extends Error {
  override name = 'CursorMovedError';
}
/** Thrown by applyCommit when the plan's leaseHolder no longer holds the generator's sync lease. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}
/** Thrown when the database cannot be reached right now (HTTP 503 with Retry-After; retried by the syncer). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/**
 * What a write changed, as every replica learns it. Listeners use it to wake long polls and to
 * invalidate caches; it is a hint, never the data itself (they re-read the store).
 */
export type StoreChange =
  /** Only these stacks got new objects or deletion markers (no stack rows, labels or annotations). */
  | { kind: 'objects'; stacks: Uuid[] }
  /** Stack rows, their labels or annotations, or generators changed: any agent may be concerned. */
  | { kind: 'stacks' }
  /** One agent's events, labels, annotations, targets, heartbeat or record changed. */
  | { kind: 'agent'; agentId: Uuid }
  /** A rollout released a wave to these agents: their target states changed, nobody else's. */
  | { kind: 'agents'; agentIds: Uuid[] }
  /** Credentials changed: an agent's PAK rotated or the agent deleted (agentId), or admin PAKs (null). */
  | { kind: 'auth'; agentId: Uuid | null }
  /** Only sync bookkeeping changed (cursor, recorded errors, a sync failure): status views, no agent. */
  | { kind: 'sync' }
  /** A repository was added, changed or removed: every replica reconciles the repositories it syncs. */
  | { kind: 'repositories' }
  /** Somebody (a push hook, an admin) asked for a repository to be synced now: its lease holder does it. */
  | { kind: 'sync-requested'; generatorId: Uuid };

export type ChangeListener = (change: StoreChange) => void;

/** A lease on syncing one repository: exactly one replica holds a live one at a time. */
export interface SyncLease {
  generator_id: Uuid;
  /** The replica's id (hostname:pid:random), chosen at start. */
  holder: string;
  acquired_at: string;
  expires_at: string;
}

/** brokkr's optional heartbeat body: the agent's own view of its Kubernetes API. */
export interface HeartbeatReport {
  k8s_reachable?: boolean | null;
  k8s_api_latency_ms?: number | null;
}

/** One object's health as an agent reports it (brokkr's DeploymentObjectHealthUpdate, its summary already text). */
export interface HealthReport {
  deployment_object_id: Uuid;
  status: HealthStatus;
  summary: string | null;
  /** When the agent checked; null: now. */
  checked_at: string | null;
}

/** Which health rows to read: one object's, one stack's objects', or one agent's (any combination narrows). */
export interface HealthQuery {
  deploymentObjectId?: Uuid;
  stackId?: Uuid;
  agentId?: Uuid;
}

/** An object (or deletion marker) a commit wrote, with its stack: what CI waits for. */
export interface CommitObject {
  commit_sha: string;
  subject: string;
  stack_id: Uuid;
  stack_name: string;
  object_id: Uuid;
  sequence_id: number;
  is_deletion_marker: boolean;
}

/** A deployment object without its content. */
export interface ObjectRef {
  id: Uuid;
  sequence_id: number;
  is_deletion_marker: boolean;
}

/** The engines behind the interface, and what differs between them. */
export const STORE_ENGINES = ['sqlite', 'postgres'] as const;
export type StoreEngine = (typeof STORE_ENGINES)[number];

export interface Store {
  readonly engine: StoreEngine;
  /** Schema version after migrations. */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;

  // --- change notification -------------------------------------------------------------------
  /**
   * Call listener for every change written by any client of the database that goes through a
   * Store: this one synchronously after its write commits; on PostgreSQL also every other
   * replica's, delivered by LISTEN/NOTIFY within milliseconds. Returns the unsubscribe function.
   */
  onChange(listener: ChangeListener): () => void;

  // --- sync leases (one syncing replica per repository) --------------------------------------
  /**
   * Take the generator's sync lease for holder, or extend it when holder has it already, until
   * now + ttlMs by the database's clock. False when another holder's lease has not expired.
   */
  acquireSyncLease(generatorId: Uuid, holder: string, ttlMs: number): Promise<boolean>;
  /** Give the lease up (shutdown), so another replica takes over at once instead of after expiry. */
  releaseSyncLease(generatorId: Uuid, holder: string): Promise<void>;
  listSyncLeases(): Promise<SyncLease[]>;
  /**
   * Say that replica `id` is serving for the next ttlMs, and count the replicas doing so now
   * (this one included), so that each can take its fair share of the sync leases.
   */
  announceReplica(id: string, ttlMs: number): Promise<number>;
  /** A replica shutting down leaves at once. */
  withdrawReplica(id: string): Promise<void>;

  // --- generators and sync -------------------------------------------------------------------
  /** The generator row for a repository, created on first use (one per repository). */
  ensureGenerator(name: string, description: string | null): Promise<Generator>;
  listGenerators(): Promise<Generator[]>;
  getSyncState(generatorId: Uuid): Promise<SyncState | null>;
  /** Create or update repo/branch/root of the sync state (cursor untouched). */
  saveSyncTarget(generatorId: Uuid, target: { repo: string; branch: string; root: string }): Promise<SyncState>;
  /** Record a failure to sync at all (null clears it); sets last_sync_at only on success paths. */
  setSyncFailure(generatorId: Uuid, message: string | null): Promise<void>;
  listSyncStates(): Promise<SyncState[]>;
  listSyncedStacks(generatorId: Uuid): Promise<SyncedStack[]>;
  /** Which of these names live stacks of other generators hold, and where (one indexed probe per name). */
  stackNamesHeldByOthers(generatorId: Uuid, names: readonly string[]): Promise<Map<string, NameHolder>>;
  /**
   * Apply one commit in ONE transaction, all or nothing. Every engine must:
   * 1. refuse (CursorMovedError) unless the stored cursor equals `plan.expectedCursor`, and
   *    (LeaseLostError) when `plan.leaseHolder` is set and does not hold a live lease — both
   *    checked inside the transaction, with the sync_state row locked against other writers;
   * 2. soft-delete `plan.deletes` before applying upserts (a name may move from a deleted stack
   *    to a new one): each deleted stack's live objects are soft-deleted and exactly one deletion
   *    marker is appended (yaml_content '', checksum md5(''), the stack's generator) — on both
   *    engines by the data model's trigger, so the result is the same for any client;
   * 3. create or update each upsert's stack row, labels and annotations, inserting an object
   *    (next sequence_id) only when `content` is present;
   * 4. record object_provenance for every object and marker, replace the sync errors named;
   * 5. move the cursor to `plan.commit` and clear last_error.
   * It reports every object and marker it wrote, and per upsert its stack id (`written`), and
   * announces the change after commit.
   */
  applyCommit(plan: CommitPlan): Promise<CommitResult>;
  listSyncErrors(generatorId?: Uuid): Promise<SyncError[]>;

  // --- repositories (many per daemon) ---------------------------------------------------------
  /** Add a repository, or change the one of that name; its generator row (same name) is created with it. */
  saveRepository(spec: RepositorySpec, audit?: AuditContext): Promise<Repository>;
  listRepositories(): Promise<Repository[]>;
  /**
   * Stop tracking a repository: its row goes, its stacks stay (agents keep what they run).
   * With prune the generator is soft-deleted too, and by the data model's cascade its stacks
   * are deleted, so every agent receives their deletion markers.
   */
  removeRepository(generatorId: Uuid, opts: { prune: boolean }, audit?: AuditContext): Promise<void>;
  /**
   * Ask for a repository to be synced now, wherever its lease is held: announced as a
   * 'sync-requested' change (on PostgreSQL a push hook reaching a standby replica reaches the holder).
   */
  requestSync(generatorId: Uuid): Promise<void>;

  // --- auth ----------------------------------------------------------------------------------
  /** Resolve a PAK hash (hex SHA-256) to who holds it; deleted agents and revoked operators resolve to null. */
  findPrincipal(pakHash: string): Promise<Principal | null>;
  /** Set the PAK of the bootstrap operator 'admin' (created, with the admin role, when missing); other operators stay. */
  setAdminPakHash(pakHash: string): Promise<void>;
  /** Create the operator 'admin' with pakHash only when no admin operator exists (atomic: of replicas starting together, one wins). */
  addAdminPakHashIfNone(pakHash: string): Promise<boolean>;
  /** Whether an operator with the admin role exists. */
  hasAdminPak(): Promise<boolean>;

  // --- operators (named admin and readonly PAKs; SPEC §11) ------------------------------------
  /** ConflictError when the name is taken. */
  createOperator(input: { name: string; role: OperatorRole; pak_hash: string }, audit?: AuditContext): Promise<Operator>;
  /** By name. */
  listOperators(): Promise<Operator[]>;
  /** Remove the operator: its PAK stops working on every replica at once. NotFoundError; LastAdminError for the last admin. */
  revokeOperator(name: string, audit?: AuditContext): Promise<Operator>;
  /** Record a use of the operator's PAK (last_used_at = now); not announced. */
  touchOperator(id: Uuid): Promise<void>;

  // --- agents --------------------------------------------------------------------------------
  createAgent(input: { name: string; cluster_name: string; pak_hash: string; labels?: string[]; annotations?: Record<string, string> }, audit?: AuditContext): Promise<Agent>;
  getAgent(id: Uuid, opts?: { includeDeleted?: boolean }): Promise<Agent | null>;
  listAgents(filter?: { name?: string; cluster_name?: string; includeDeleted?: boolean }): Promise<Agent[]>;
  updateAgent(id: Uuid, patch: { name?: string; cluster_name?: string; status?: string }, audit?: AuditContext): Promise<Agent>;
  setAgentPakHash(id: Uuid, pakHash: string, audit?: AuditContext): Promise<Agent>;
  /** Sets last_heartbeat and status ACTIVE; a report also sets k8s_reachable, k8s_api_latency_ms and k8s_reported_at. */
  recordHeartbeat(id: Uuid, report?: HeartbeatReport): Promise<void>;
  softDeleteAgent(id: Uuid, audit?: AuditContext): Promise<void>;

  // --- labels, annotations, targets (one shape for stacks and agents) ------------------------
  // A trailing AuditContext on a write records it in audit_logs in the write's own transaction.
  listLabels(kind: OwnerKind, ownerId: Uuid): Promise<Label[]>;
  addLabel(kind: OwnerKind, ownerId: Uuid, label: string, audit?: AuditContext): Promise<Label>;
  removeLabel(kind: OwnerKind, ownerId: Uuid, label: string, audit?: AuditContext): Promise<boolean>;
  listAnnotations(kind: OwnerKind, ownerId: Uuid): Promise<Annotation[]>;
  /** Insert or replace the value of one key. */
  setAnnotation(kind: OwnerKind, ownerId: Uuid, key: string, value: string, audit?: AuditContext): Promise<Annotation>;
  removeAnnotation(kind: OwnerKind, ownerId: Uuid, key: string, audit?: AuditContext): Promise<boolean>;
  listTargets(agentId: Uuid): Promise<AgentTarget[]>;
  addTarget(agentId: Uuid, stackId: Uuid, audit?: AuditContext): Promise<AgentTarget>;
  removeTarget(agentId: Uuid, stackId: Uuid, audit?: AuditContext): Promise<boolean>;

  // --- stacks and objects --------------------------------------------------------------------
  listStacks(opts?: { includeDeleted?: boolean }): Promise<StackDetail[]>;
  getStack(id: Uuid): Promise<StackDetail | null>;
  /** Stacks associated with an agent (targets, label match, annotation match). */
  listAgentStacks(agentId: Uuid): Promise<Stack[]>;
  isStackAssociated(agentId: Uuid, stackId: Uuid): Promise<boolean>;
  /** A stack's objects, newest first (deleted ones included: they are history). */
  listObjects(stackId: Uuid, opts?: { limit?: number }): Promise<ObjectWithCommit[]>;
  getObject(id: Uuid): Promise<ObjectWithCommit | null>;
  getObjects(ids: Uuid[]): Promise<DeploymentObject[]>;
  /**
   * Ids of the agent's target state, newest sequence_id first: the latest object (markers
   * included) of every associated stack; 'incremental' drops those the agent reported SUCCESS for.
   * One indexed query; cheap enough to back an ETag.
   */
  targetStateIds(agentId: Uuid, mode: 'incremental' | 'full'): Promise<TargetStateEntry[]>;

  // --- events --------------------------------------------------------------------------------
  /**
   * NotFoundError for an unknown agent or object. `require_association` (an agent's report through
   * the API): the agent must hold the object's stack (isStackAssociated), else NotAssociatedError
   * — checked in the statement that writes the event, so a report costs the server one round trip.
   */
  createEvent(input: EventInput): Promise<AgentEvent>;
  listEvents(query?: EventQuery): Promise<AgentEvent[]>;
  /** One event by id (soft-deleted ones too: they are history), or null. */
  getEvent(id: Uuid): Promise<AgentEvent | null>;

  // --- deployment health and commits (CI) -----------------------------------------------------
  /** Upsert the agent's health of each object (one row per agent and object) in one transaction; NotFoundError for an unknown agent or object. */
  reportHealth(agentId: Uuid, reports: readonly HealthReport[]): Promise<DeploymentHealth[]>;
  /** Health rows matching the query, newest object first, then by agent id. */
  listHealth(query: HealthQuery): Promise<DeploymentHealth[]>;
  /** Objects and markers whose commit_sha starts with shaPrefix (lower-case hex), by commit then stack name. */
  findCommitObjects(shaPrefix: string): Promise<CommitObject[]>;
  /** Live agents associated with the stack (targets, label match, annotation match), by name. */
  listStackAgents(stackId: Uuid): Promise<Agent[]>;
  /** The stack's objects and markers (soft-deleted included) with sequence_id ≥ fromSequence, newest first. */
  listStackObjectsFrom(stackId: Uuid, fromSequence: number): Promise<ObjectRef[]>;

  // --- progressive delivery (SPEC §10) ------------------------------------------------------
  /** Waves, their agents and released objects, gate state and halt reason; NotFoundError for an unknown stack. */
  getRollout(stackId: Uuid): Promise<RolloutStatus>;
  /** promote (next wave now, lifting a halt), pause (release nothing new), resume (newest object from wave 1); announced. */
  rolloutAction(stackId: Uuid, action: RolloutAction, audit?: AuditContext): Promise<RolloutStatus>;
  /**
   * A new object with the content of the stack's object `toSequence`, provenance in
   * object_rollbacks (actor, from what), released to every wave at once; the stack is paused.
   */
  rollback(stackId: Uuid, toSequence: number, actor: string, audit?: AuditContext): Promise<{ object: { id: Uuid; sequence_id: number }; rollout: RolloutStatus }>;

  // --- fleet-wide reads for dashboards (a fixed number of queries, whatever the fleet's size) -
  /** Labels, annotations and explicit targets of every live agent, ordered by agent id. */
  agentAssociationInputs(): Promise<AgentAssociationInputs[]>;
  /** The full target state of every live agent (agent id → entries, newest first), in one query. */
  fullTargetStates(): Promise<Map<Uuid, TargetStateEntry[]>>;

  // --- audit log (SPEC §11; written by the admin writes themselves, see audit.ts) ----------------
  /** Audit rows matching the query, newest first, with the total and the next page's cursor. */
  listAuditLogs(query?: AuditQuery): Promise<AuditPage>;
  /** One audit row for an admin action that changes nothing else in the database (a sync requested now). */
  recordAudit(audit: AuditContext, entry: AuditEntry): Promise<void>;

  // --- operations ----------------------------------------------------------------------------
  countAgentsByStatus(): Promise<Record<string, number>>;
  /** Per agent: how many target-state objects are pending (no SUCCESS) and failed (last event FAILURE). */
  agentDeliverySummary(): Promise<{ agent_id: Uuid; pending: number; failed: number }[]>;
}

export type { Stack, Agent, DeploymentObject, AgentEvent, AgentTarget, Generator, StackLabel, StackAnnotation, AgentLabel, AgentAnnotation };
