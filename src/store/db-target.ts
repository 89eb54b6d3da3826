/** What `--db` names: a SQLite file path, or a PostgreSQL URL; and how to show it without its password. */

/** postgres:// or postgresql:// (any case): a PostgreSQL database; anything else is a SQLite file path. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target.trim());
}

/** The target as it may be logged or printed: a URL's password becomes ***. */
export function redactDbTarget(target: string): string {
  if (!isPostgresUrl(target)) return target;
  try {
    const url = new URL(target);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return target.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}
