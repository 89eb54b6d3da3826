/**
 * The world the process-level e2e tests share: a git repository, a work directory (with a `ctrl`
 * directory that the agents' --apply/--health scripts read), `brokkr-sync serve` on a fixed free
 * port (a restarted daemon comes back on the same URL) and reference agents created through the
 * CLI and started as processes. One per test file, built in beforeAll, closed in afterAll.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { makeRepoSync, makeTempDir, type TestRepo } from '../helpers/git-repo.js';
import { freePort, killAll, requireBuild, runCli, startCli, type CliProcess } from './cli-process.js';

export interface E2eWorld {
  repo: TestRepo;
  work: { path: string; cleanup(): void };
  url: string;
  daemon: CliProcess;
  agents: Map<string, CliProcess>;
  paks: Map<string, string>;
  /** BROKKR_URL and BROKKR_PAK of the admin, for runCli's env. */
  admin(): NodeJS.ProcessEnv;
  /** A file in the control directory. */
  ctrl(name: string): string;
  /** Start `serve` again (after the last one stopped) on the same port and database; resolves once it serves. */
  restartDaemon(): Promise<void>;
  /** `agents create NAME --cluster local ...createArgs --json`; the agent's PAK. */
  createAgent(name: string, createArgs: string[]): Promise<string>;
  /** Start (or restart: same --out) the agent process with the PAK it has and `args`; resolves once it is connected. */
  startAgent(name: string, args: string[]): Promise<CliProcess>;
  close(): Promise<void>;
}

/** `files` committed as the first commit of a new repository; the daemon syncs it every `--interval 1`. */
export async function startE2eWorld(opts: { prefix: string; adminPak: string; files: Record<string, string> }): Promise<E2eWorld> {
  requireBuild();
  const work = makeTempDir(`brokkr-e2e-${opts.prefix}-`);
  mkdirSync(join(work.path, 'ctrl'), { recursive: true });
  const repo = makeRepoSync(`brokkr-e2e-${opts.prefix}-repo-`);
  repo.writeAll(opts.files);
  repo.commit('initial stacks');
  const port = await freePort();
  const serve = () =>
    startCli(['serve', '--repo', repo.path, '--branch', 'main', '--db', join(work.path, 'brokkr.db'), '--port', String(port), '--interval', '1'], {
      env: { BROKKR_ADMIN_PAK: opts.adminPak },
    });
  const agents = new Map<string, CliProcess>();
  const paks = new Map<string, string>();
  const world: E2eWorld = {
    repo,
    work,
    url: '',
    daemon: serve(),
    agents,
    paks,
    admin: () => ({ BROKKR_URL: world.url, BROKKR_PAK: opts.adminPak }),
    ctrl: (name) => join(work.path, 'ctrl', name),
    async restartDaemon() {
      world.daemon = serve();
      await world.daemon.waitFor(/serving (http:\/\/\S+)/, 'the daemon to serve again');
    },
    async createAgent(name, createArgs) {
      const r = await runCli(['agents', 'create', name, '--cluster', 'local', ...createArgs, '--json'], { env: world.admin() });
      expect(r.code, r.stderr).toBe(0);
      const pak = (JSON.parse(r.stdout) as { initial_pak: string }).initial_pak;
      paks.set(name, pak);
      return pak;
    },
    async startAgent(name, args) {
      const p = startCli(['agent', '--url', world.url, '--pak', paks.get(name)!, '--out', join(work.path, name), ...args], {
        env: { CTRL: join(work.path, 'ctrl'), AGENT_NAME: name },
      });
      agents.set(name, p);
      await p.waitFor(/connected to/, `agent ${name} to connect`);
      return p;
    },
    async close() {
      for (const p of agents.values()) await p.stop();
      await world.daemon.stop();
      killAll();
      work.cleanup();
      repo.cleanup();
    },
  };
  world.url = (await world.daemon.waitFor(/serving (http:\/\/\S+)/, 'the daemon to serve'))[1]!;
  return world;
}
