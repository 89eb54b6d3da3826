/** PAKs (pre-shared authentication keys): generated from 256 random bits, stored only as SHA-256 hashes. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { sha256Hex } from '../sha256-hex.js';

/** Every PAK this product issues starts with this, so a leaked one is easy to recognise in a scan. */
export const PAK_PREFIX = 'brk_';

/** A new PAK: the prefix and 32 random bytes as base64url (43 characters). */
export function generatePak(): string {
  return PAK_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * Hashes of PAKs seen recently. Every authenticated request hashes its PAK to look it up, and a
 * SHA-256 per request was ~5 % of the CPU of a 304 poll (bench F13); a fleet polls with the
 * same few thousand PAKs, so they are remembered (the least recently used is dropped when full).
 */
const recentHashes = new LRUCache<string, string>({ max: 20_000 });

/** The stored form of a PAK: lowercase hex SHA-256 of its UTF-8 bytes. */
export function hashPak(pak: string): string {
  let hash = recentHashes.get(pak);
  if (hash !== undefined) return hash;
  hash = sha256Hex(pak);
  recentHashes.set(pak, hash);
  return hash;
}

/**
 * Compare two hex hashes without leaking where they differ. Lengths are public (both are
 * SHA-256 hex), so a length mismatch may return early.
 */
export function hashesEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
