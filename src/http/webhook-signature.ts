/** Verify push-hook authenticity in constant time: GitHub/Gitea HMAC signatures and GitLab's shared token. */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

type Headers = Record<string, string | string[] | undefined>;

const header = (headers: Headers, name: string): string | undefined => {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Equal-length digests of both sides, so neither content nor length leaks through timing. */
function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/**
 * True when the request carries a valid proof of the secret:
 * `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` (GitHub, Gitea, Forgejo),
 * `X-Gitea-Signature: <hex>` (older Gitea), or `X-Gitlab-Token: <secret>` (GitLab).
 */
export function verifyWebhook(secret: string, headers: Headers, rawBody: Buffer): boolean {
  const expected = createHmac('sha256', secret).update(rawBody).digest('hex');
  const hub = header(headers, 'x-hub-signature-256');
  if (hub !== undefined) {
    const given = hub.trim().replace(/^sha256=/i, '').toLowerCase();
    return sameSecret(given, expected);
  }
  const gitea = header(headers, 'x-gitea-signature');
  if (gitea !== undefined) return sameSecret(gitea.trim().toLowerCase(), expected);
  const gitlab = header(headers, 'x-gitlab-token');
  if (gitlab !== undefined) return sameSecret(gitlab, secret);
  return false;
}
