/** Crash-safe file replacement: a reader sees the old content or the new one, never half of either. */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Write `data` to a temp file in the same directory (same file system, so rename is atomic),
 * fsync it, rename it over `path`, then fsync the directory so the rename itself survives a
 * power cut. The temp name starts with a dot so tools watching `*.yaml` never pick it up.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle;
  try {
    handle = await open(tmp, 'wx', mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (err) {
    await handle?.close().catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
  await syncDir(dir);
}

/** fsync a directory (best effort: some platforms refuse to open directories). */
export async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Not supported here (e.g. Windows); the rename is still atomic, just not yet durable.
  } finally {
    await handle?.close().catch(() => {});
  }
}
