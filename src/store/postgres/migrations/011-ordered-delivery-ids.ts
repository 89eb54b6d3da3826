/** Migration 11 (PostgreSQL): webhook deliveries get time-ordered ids (UUID version 7) instead of random ones (issue 15, BENCHMARKS F12). */
import type { Migration } from '../../sqlite/migrations/migration.js';

/*
 * As SQLite's migration 11 (see there): a delivery row is written with every agent event a
 * subscription wants, and a time-ordered id appends it at the right edge of the primary-key index
 * instead of on a random page. Here the id is the column's default (every enqueue leaves it to
 * the default), so changing the default is the whole change: gen_random_uuid()'s bytes with the
 * first 48 bits replaced by the Unix time in milliseconds and the version nibble set to 7
 * (bits 52–55 of the 128, numbered from the right within each byte as set_bit does). Existing
 * rows keep their ids.
 */
const SQL = `
CREATE FUNCTION webhook_ordered_uuid() RETURNS UUID LANGUAGE sql VOLATILE AS $$
  SELECT encode(set_bit(set_bit(
    overlay(uuid_send(gen_random_uuid()) PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
    52, 1), 53, 1), 'hex')::uuid
$$;
ALTER TABLE webhook_deliveries ALTER COLUMN id SET DEFAULT webhook_ordered_uuid();
`;

export const orderedDeliveryIds: Migration = { version: 11, name: 'ordered-delivery-ids', sql: SQL };
