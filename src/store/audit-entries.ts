/**
 * What each admin write records, written once for both engines: the action, the resource, and
 * details made only of names, ids and settings — never a PAK, hash, secret or credential (the
 * repository's auth is reduced to its kind, its URL to the URL without user-info).
 */
import type { AuditEntry } from './audit.js';
import type { Operator } from './operators.js';
import type { Agent } from './records.js';
import type { RolloutAction } from './rollout-records.js';
import type { OwnerKind, Repository } from './store.js';

const agentDetails = (a: Agent) => ({ name: a.name, cluster_name: a.cluster_name });

export const auditEntries = {
  agentCreated: (a: Agent, labels: string[], annotations: Record<string, string>): AuditEntry => ({
    action: 'agent.created',
    resource_type: 'agent',
    resource_id: a.id,
    details: { ...agentDetails(a), labels, annotations },
  }),
  agentUpdated: (a: Agent, patch: { name?: string; cluster_name?: string; status?: string }): AuditEntry => ({
    action: 'agent.updated',
    resource_type: 'agent',
    resource_id: a.id,
    details: { ...agentDetails(a), changed: Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) },
  }),
  agentDeleted: (id: string, a: Agent | null): AuditEntry => ({
    action: 'agent.deleted',
    resource_type: 'agent',
    resource_id: id,
    details: a ? agentDetails(a) : null,
  }),
  /** The new PAK is never recorded: only that the agent's PAK changed. */
  agentPakRotated: (a: Agent): AuditEntry => ({ action: 'agent.pak_rotated', resource_type: 'agent', resource_id: a.id, details: agentDetails(a) }),
  labelAdded: (kind: OwnerKind, ownerId: string, label: string): AuditEntry => ({ action: 'label.added', resource_type: kind, resource_id: ownerId, details: { label } }),
  labelRemoved: (kind: OwnerKind, ownerId: string, label: string): AuditEntry => ({ action: 'label.removed', resource_type: kind, resource_id: ownerId, details: { label } }),
  annotationSet: (kind: OwnerKind, ownerId: string, key: string, value: string): AuditEntry => ({
    action: 'annotation.set',
    resource_type: kind,
    resource_id: ownerId,
    details: { key, value },
  }),
  annotationRemoved: (kind: OwnerKind, ownerId: string, key: string): AuditEntry => ({ action: 'annotation.removed', resource_type: kind, resource_id: ownerId, details: { key } }),
  targetAdded: (agentId: string, stackId: string): AuditEntry => ({ action: 'target.added', resource_type: 'agent', resource_id: agentId, details: { stack_id: stackId } }),
  targetRemoved: (agentId: string, stackId: string): AuditEntry => ({ action: 'target.removed', resource_type: 'agent', resource_id: agentId, details: { stack_id: stackId } }),
  repositorySaved: (r: Repository): AuditEntry => ({
    action: 'repository.saved',
    resource_type: 'repository',
    resource_id: r.generator_id,
    details: {
      name: r.name,
      url: r.url,
      branch: r.branch,
      root: r.root,
      interval_seconds: r.interval_seconds,
      auth_kind: r.auth === null ? 'none' : 'sshKeyFile' in r.auth ? 'ssh-key' : 'token',
      push_hook_signed: r.webhook_secret !== null,
    },
  }),
  /** `repos sync` / POST /generators/{id}/sync: what the pass did, never the repository's credentials. */
  repositorySyncRequested: (generatorId: string, name: string | null, commit: string | null): AuditEntry => ({
    action: 'repository.sync_requested',
    resource_type: 'repository',
    resource_id: generatorId,
    details: { name, commit },
  }),
  repositoryRemoved: (generatorId: string, name: string | null, prune: boolean): AuditEntry => ({
    action: 'repository.removed',
    resource_type: 'repository',
    resource_id: generatorId,
    details: { name, prune },
  }),
  rolloutAction: (stackId: string, action: RolloutAction): AuditEntry => ({
    action: `rollout.${action === 'promote' ? 'promoted' : action === 'pause' ? 'paused' : 'resumed'}`,
    resource_type: 'stack',
    resource_id: stackId,
    details: null,
  }),
  rollback: (stackId: string, toSequence: number, object: { id: string; sequence_id: number }): AuditEntry => ({
    action: 'rollout.rolled_back',
    resource_type: 'stack',
    resource_id: stackId,
    details: { to_sequence: toSequence, object_id: object.id, sequence_id: object.sequence_id },
  }),
  operatorCreated: (o: Operator): AuditEntry => ({ action: 'pak.created', resource_type: 'operator', resource_id: o.id, details: { name: o.name, role: o.role } }),
  operatorRevoked: (o: Operator): AuditEntry => ({ action: 'pak.revoked', resource_type: 'operator', resource_id: o.id, details: { name: o.name, role: o.role } }),
};
