// Child processes for benchmarks: fork a worker, talk to it over IPC, read a process's memory from /proc.
import { fork, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A forked worker that answers requests in order: `await w.call({cmd, ...})` resolves with the
 * worker's reply ({error} in a reply becomes a rejection). The worker uses serve() below.
 */
export function startWorker(script, { execArgv = [], env = process.env, args = [], quiet = false, cpu = null } = {}) {
  const child = fork(script, args, { execArgv, env, stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit', 'ipc'] });
  if (cpu !== null) pin(child.pid, cpu);
  const pending = [];
  let exited = null;
  child.on('message', (msg) => {
    const p = pending.shift();
    if (!p) return;
    if (msg && msg.error) p.reject(new Error(`worker ${script}: ${msg.error}`));
    else p.resolve(msg);
  });
  child.on('exit', (code, signal) => {
    exited = { code, signal };
    for (const p of pending.splice(0)) p.reject(new Error(`worker ${script} exited (${code ?? signal})`));
  });
  return {
    pid: child.pid,
    call(msg) {
      if (exited) return Promise.reject(new Error(`worker ${script} already exited`));
      return new Promise((resolve, reject) => {
        pending.push({ resolve, reject });
        child.send(msg);
      });
    },
    /** Ask the worker to exit; kill it if it does not within the grace period. */
    async stop(graceMs = 10_000) {
      if (exited) return exited;
      const done = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
      child.send({ cmd: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await done;
      clearTimeout(timer);
      return result;
    },
    kill() {
      if (!exited) child.kill('SIGKILL');
    },
  };
}

/**
 * Worker side: handlers by cmd; 'exit' runs `onExit` (if any) then exits. Every worker also
 * answers 'profileStart' / 'profileStop' {file}: a CPU profile of just the window in between
 * (node:inspector), written as a .cpuprofile for bench/profile-summary.mjs or DevTools.
 */
export function serve(handlers, onExit) {
  handlers = { ...profileHandlers(), ...handlers };
  let queue = Promise.resolve();
  process.on('message', (msg) => {
    queue = queue.then(async () => {
      if (msg.cmd === 'exit') {
        try {
          await onExit?.();
        } finally {
          process.exit(0);
        }
      }
      const handler = handlers[msg.cmd];
      try {
        if (!handler) throw new Error(`unknown command ${msg.cmd}`);
        process.send((await handler(msg)) ?? {});
      } catch (err) {
        process.send({ error: err instanceof Error ? err.stack || err.message : String(err) });
      }
    });
  });
  process.on('disconnect', () => process.exit(0));
}

/**
 * CPU pinning for the HTTP scenarios: the server under test on one core, the load generator on
 * another, so neither steals the other's core (null when taskset is missing or there is 1 core).
 */
export const CPUS = (() => {
  if (cpus().length < 2 || spawnSync('taskset', ['--version']).status !== 0) return { server: null, load: null };
  return { server: 0, load: 1 };
})();

function pin(pid, cpu) {
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) console.warn(`taskset could not pin ${pid} to CPU ${cpu}: ${r.stderr.trim()}`);
}

/** VmRSS / VmHWM of a process in MiB (Linux /proc). */
export function memoryOf(pid = process.pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

/**
 * Where CPU profiles of the product's process go when a scenario runs with `--profile`: measured
 * windows only (the worker's profileStart/profileStop), into $BENCH_PROFILE_DIR or
 * <tmpdir>/brokkr-bench-profiles. Summarise with `node bench/profile-summary.mjs FILE`.
 */
export function profileDir(enabled) {
  if (!enabled) return null;
  const dir = process.env.BENCH_PROFILE_DIR ?? join(tmpdir(), 'brokkr-bench-profiles');
  mkdirSync(dir, { recursive: true });
  console.log(`cpu profiles of the measured windows go to ${dir}`);
  return dir;
}

function profileHandlers() {
  let session = null;
  return {
    /** CPU time of this process so far (µs, all threads), for CPU-per-request figures. */
    cpuUsage: () => process.cpuUsage(),
    async profileStart() {
      const { Session } = await import('node:inspector/promises');
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
      return {};
    },
    async profileStop({ file }) {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      session = null;
      writeFileSync(file, JSON.stringify(profile));
      return { file };
    },
  };
}
