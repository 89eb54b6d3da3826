/** The X-Brokkr-Signature-256 header: `sha256=` + hex HMAC-SHA256 of the exact body bytes, keyed by the subscription's secret (GitHub's scheme). */
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Brokkr-Signature-256';

export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
