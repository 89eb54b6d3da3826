/** Remove credentials from repository URLs (and from any text that may quote one) before logging or storing it. */

// scheme://userinfo@host — userinfo may be `user`, `user:password` or a bare token; all of it goes,
// up to the LAST @ before the host: a password with a raw @ (`user:p@ss@host`) must not leave `ss` behind.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/]*@/gi;

/**
 * `https://user:token@host/x.git` → `https://***@host/x.git`. Works on whole messages too (git's
 * stderr quotes the URL it failed on). scp-like `git@host:path` is kept: `git` is not a secret.
 */
export function redactUrl(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1***@');
}

/** The URL without any userinfo (`https://host/x.git`), for places where even `***` is noise. */
export function stripCredentials(url: string): string {
  return url.replace(URL_CREDENTIALS, '$1');
}

/** Does `repo` name a remote (scheme URL or scp-like `user@host:path`) rather than a local path? */
export function isRemoteUrl(repo: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repo)) return true;
  // scp-like syntax: no slash before the first colon, and something@host or host: form.
  return /^[^\s/@:]+@[^\s/:]+:/.test(repo);
}
