/** The daemon's address as its clients (the admin CLI, the agent) hold it. */

export type ApiBaseUrl = { ok: true; url: string } | { ok: false; problem: 'not-a-url' } | { ok: false; problem: 'not-http'; protocol: string };

/** http(s) only; no trailing slash and no /api/v1 suffix (each client adds the API prefix itself). */
export function normalizeApiBaseUrl(input: string): ApiBaseUrl {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, problem: 'not-a-url' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, problem: 'not-http', protocol: url.protocol };
  return { ok: true, url: url.href.replace(/\/+$/, '').replace(/\/api\/v1$/, '') };
}
