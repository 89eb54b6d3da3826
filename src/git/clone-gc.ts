/**
 * Garbage collection of the clones under `<dataDir>/repos/` (open-git-source.ts writes them): a
 * clone no repository owns any more, and a temp folder a crashed clone left behind. It deletes
 * only what that layout names — direct children of `repos/` that are real directories called
 * `<24 hex>` or `<24 hex>.tmp-<pid>-<time>` — never follows a symbolic link, and leaves anything
 * else (a stray file, a link, a folder of another name) where it is.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { cloneDirFor } from './open-git-source.js';
import { isRemoteUrl } from './redact-url.js';

const CLONE = /^[0-9a-f]{24}$/;
const TEMP = /^[0-9a-f]{24}\.tmp-(\d+)-\d+$/;

export interface CloneGcResult {
  /** Clones of repositories no longer synced. */
  removedClones: string[];
  /** Temp folders of clones whose process is gone. */
  removedTemps: string[];
}

export interface CloneGcOptions {
  /** Whether a process id is alive (a clone in progress there keeps its temp folder); tests replace it. */
  isAlive?: (pid: number) => boolean;
}

/**
 * Delete the clones under `dataDir` that none of `urls` (the repositories still synced, any form
 * the daemon was given) owns, and temp folders of clones whose process has died. A `repos/` that
 * is itself a symbolic link is left alone: its target is outside what the daemon created.
 */
export async function collectClones(dataDir: string, urls: Iterable<string>, { isAlive = processAlive }: CloneGcOptions = {}): Promise<CloneGcResult> {
  const result: CloneGcResult = { removedClones: [], removedTemps: [] };
  const reposDir = join(dataDir, 'repos');
  const top = await lstat(reposDir).catch(() => null);
  if (!top || !top.isDirectory()) return result; // absent, or a link / file: nothing of ours to collect
  const owned = new Set<string>();
  for (const url of urls) if (isRemoteUrl(url)) owned.add(basename(cloneDirFor(dataDir, url)));
  for (const entry of await readdir(reposDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue; // a file, or a symbolic link (never followed, never removed)
    const path = join(reposDir, entry.name);
    if (CLONE.test(entry.name)) {
      if (owned.has(entry.name)) continue;
      await rm(path, { recursive: true, force: true });
      result.removedClones.push(path);
      continue;
    }
    const temp = TEMP.exec(entry.name);
    if (temp && !isAlive(Number(temp[1]))) {
      await rm(path, { recursive: true, force: true });
      result.removedTemps.push(path);
    }
  }
  return result;
}

/** Signal 0 tests for a process without touching it: EPERM means alive but not ours. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
