/**
 * The V8 setting `serve` runs the daemon with (issue 16, docs/BENCHMARKS.md finding F5): V8's
 * memory-over-speed mode. A daemon's live data is small (~60 MiB at 10,000 stacks, 1,000 agents),
 * but V8 by default grows its heap to several times that after a burst of garbage (the first sync,
 * a wave of requests) and keeps it; in this mode it grows the heap less and gives it back sooner.
 * Measured: 265 → ~160 MiB RSS in the bench's memory scenario. Cost: somewhat more CPU in garbage
 * collection. Set at start-up by the product itself, so no one has to remember a node flag; a node
 * started with `--optimize-for-size` or `--no-optimize-for-size` (command line or NODE_OPTIONS)
 * keeps what it was given.
 */
import { setFlagsFromString } from 'node:v8';

const FLAG = '--optimize-for-size';

/** Apply the daemon's V8 setting unless the process was started with an explicit choice. Returns whether it was applied. */
export function useDaemonHeapSettings(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): boolean {
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => /^--(no-)?optimize[-_]for[-_]size$/.test(a));
  if (given) return false;
  setFlagsFromString(FLAG);
  return true;
}
