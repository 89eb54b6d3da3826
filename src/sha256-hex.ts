/** Lowercase hex SHA-256 of a string's UTF-8 bytes: stack content checksums (sync and agent), long file names, clone directories. */
import { createHash } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
