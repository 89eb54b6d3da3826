/** Migration 11: webhook deliveries get time-ordered ids (UUID version 7) instead of random ones (issue 15, BENCHMARKS F12). */
import { ORDERED_UUID_SQL } from '../sql-fragments.js';
import { DROP_WEBHOOK_TRIGGERS_SQL, webhookTriggersSql } from './010-webhook-filters.js';
import type { Migration } from './migration.js';

/*
 * Every agent event a subscription wants writes a delivery row in the same transaction, and with a
 * random id each of those rows lands on a random page of the deliveries' primary-key index: an
 * event batch of a few events dirtied a few more pages, all written to the WAL at commit, on the
 * API's thread (~50 µs per event at a few events per batch, 20,000 deliveries in the table). With
 * the time in front the rows of a batch share the index's last page. The ids stay UUIDs (SPEC
 * §5: ids as UUID strings); existing rows keep theirs. The triggers are the same as migration 10's
 * but for the id expression (SQLite cannot alter a trigger's body, so they are created again).
 */
const SQL = `
${DROP_WEBHOOK_TRIGGERS_SQL}
${webhookTriggersSql(ORDERED_UUID_SQL)}`;

export const orderedDeliveryIds: Migration = { version: 11, name: 'ordered-delivery-ids', sql: SQL };
