/** SQL expressions shared by the migrations and the store, so every client of the file computes the same values. */

/**
 * The one timestamp format: UTC ISO-8601 with milliseconds, identical to JS `toISOString()`.
 * `CURRENT_TIMESTAMP` ('YYYY-MM-DD HH:MM:SS') must never be mixed in: it sorts before the 'T' form.
 */
export const NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

/** Normalise any SQLite-readable time value (e.g. CURRENT_TIMESTAMP typed in the shell) to the one format. */
export function isoSql(expr: string): string {
  return `coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', ${expr}), ${expr})`;
}

/**
 * A random (version 4) UUID in pure SQL. Triggers must not call functions registered from Node
 * (`db.function`): the `sqlite3` shell and every other client would fail with "no such function".
 * `random() & 3` picks the variant nibble without abs() (abs of the smallest int64 overflows).
 */
export const UUID_SQL =
  "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || " +
  "substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))";

/**
 * A time-ordered (version 7, RFC 9562) UUID in pure SQL: the first 48 bits are the Unix time in
 * milliseconds, the rest random. Rows keyed by it are appended at the right edge of their
 * primary-key index instead of at a random page, so a transaction writing a few of them dirties
 * one index page, not one each (webhook deliveries: one per event and subscription; migration 11).
 * `time` is an SQL time value ('now', or a column in NOW_SQL's format); within one statement 'now'
 * is one instant, so both halves of the time agree.
 */
export function orderedUuidSql(time: string): string {
  const ms = `(CAST(strftime('%s',${time}) AS INTEGER) * 1000 + CAST(substr(strftime('%f',${time}), 4) AS INTEGER))`;
  return (
    `printf('%08x-%04x-7', ${ms} >> 16, ${ms} & 65535) || substr(lower(hex(randomblob(2))), 2) || '-' || ` +
    "substr('89ab', 1 + (random() & 3), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))"
  );
}
export const ORDERED_UUID_SQL = orderedUuidSql("'now'");

/** md5('') as a literal: SQLite has no md5(), and deletion markers carry this checksum (as in brokkr). */
export const MD5_EMPTY = 'd41d8cd98f00b204e9800998ecf8427e';
