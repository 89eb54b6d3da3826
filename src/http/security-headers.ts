/** Security headers on every answer; strict defaults that a route (the dashboard) may override by setting its own. */
import type { FastifyInstance } from 'fastify';

/** JSON answers never need to load anything, so the policy forbids everything. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Every answer's security headers (the 304 fast path, fast-poll.ts, sends these same ones). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': API_CSP,
  'cache-control': 'no-store',
});

/**
 * Set when the request arrives, before any other hook or handler, so every answer fastify sends
 * carries them — error answers (401, 429, 404, 500) included — and a route that sets its own
 * content-security-policy or cache-control replaces the default. A synchronous onRequest hook
 * instead of an async onSend one: the headers no longer cost a promise and a hook pass per
 * answer (bench F13).
 */
export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(SECURITY_HEADERS);
    done();
  });
}
