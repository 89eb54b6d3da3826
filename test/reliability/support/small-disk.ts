/**
 * A small file system for disk faults: a size-limited tmpfs when this process may mount one
 * (root on Linux), which can be filled to ENOSPC and remounted read-only. Where mounting is not
 * possible the caller falls back to injecting the same SQLite errors through a wrapped store.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallDisk {
  dir: string;
  /** False when no tmpfs could be mounted (dir is then a plain temp directory). */
  mounted: boolean;
  /** Write a filler file until the file system reports ENOSPC; returns the bytes written. */
  fill(): number;
  /** Delete the filler. */
  free(): void;
  /** Remount read-only (true) or read-write (false); fails if files are open for writing. */
  setReadOnly(readOnly: boolean): void;
  cleanup(): void;
}

export function makeSmallDisk(sizeBytes: number): SmallDisk {
  const dir = mkdtempSync(join(tmpdir(), 'brokkr-disk-'));
  let mounted = false;
  if (process.platform === 'linux' && process.env.BROKKR_TEST_NO_MOUNT !== '1') {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'ignore' });
      mounted = true;
    } catch {
      mounted = false;
    }
  }
  const filler = join(dir, 'filler');
  return {
    dir,
    mounted,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(16 * 1024, 0x5a);
      let written = 0;
      try {
        for (let i = 0; i < 1_000_000; i++) written += writeSync(fd, chunk);
        throw new Error(`the disk at ${dir} never filled up`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
      return written;
    },
    free() {
      rmSync(filler, { force: true });
    },
    setReadOnly(readOnly) {
      if (!mounted) throw new Error('setReadOnly needs a mounted tmpfs');
      execFileSync('mount', ['-o', `remount,${readOnly ? 'ro' : 'rw'}`, dir], { stdio: 'pipe' });
    },
    cleanup() {
      if (mounted) {
        try {
          execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
        } catch {
          /* already unmounted */
        }
      }
      try {
        unlinkSync(filler);
      } catch {
        /* gone with the mount */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
