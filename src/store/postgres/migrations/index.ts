/** Every PostgreSQL migration, in order, numbered as SQLite's. Append new ones; never edit one that has shipped. */
import type { Migration } from '../../sqlite/migrations/migration.js';
import { brokkrModel } from './001-brokkr-model.js';
import { syncState } from './002-sync-state.js';
import { replicas } from './003-replicas.js';
import { repositories } from './004-repositories.js';
import { replicaPresence } from './005-replica-presence.js';
import { deploymentHealth } from './006-deployment-health.js';
import { rollouts } from './007-rollouts.js';
import { auditAndOperators } from './008-audit-and-operators.js';
import { webhooks } from './009-webhooks.js';
import { webhookFilters } from './010-webhook-filters.js';
import { orderedDeliveryIds } from './011-ordered-delivery-ids.js';
import { agentEventQueue } from './012-agent-event-queue.js';

export const PG_MIGRATIONS: readonly Migration[] = [brokkrModel, syncState, replicas, repositories, replicaPresence, deploymentHealth, rollouts, auditAndOperators, webhooks, webhookFilters, orderedDeliveryIds, agentEventQueue];
export type { Migration };
