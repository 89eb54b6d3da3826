/** PAKs (pre-shared authentication keys): generated from 256 random bits, stored only as SHA-256 hashes. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Every PAK this product issues starts with this, so a leaked one is easy to recognise in a scan. */
export const PAK_PREFIX = 'brk_';

/** A new PAK: the prefix and 32 random bytes as base64url (43 characters). */
export function generatePak(): string {
  return PAK_PREFIX + randomBytes(32).toString('base64url');
}

/** The stored form of a PAK: lowercase hex SHA-256 of its UTF-8 bytes. */
export function hashPak(pak: string): string {
  return createHash('sha256').update(pak, 'utf8').digest('hex');
}

/**
 * Compare two hex hashes without leaking where they differ. Lengths are public (both are
 * SHA-256 hex), so a length mismatch may return early.
 */
export function hashesEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
