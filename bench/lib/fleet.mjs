// The fleet the HTTP scenarios share: a generated 10,000-stack repository, the real daemon in a
// worker process (first sync done), and 1,000 agents each associated with 50 stacks by label.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker } from './child.mjs';
import { generateRepo } from './gen-repo.mjs';

const DAEMON = new URL('./daemon-worker.mjs', import.meta.url).pathname;

/**
 * Start the fleet. `groups` label groups split the stacks evenly (10,000 / 200 = 50 per agent);
 * `probes` extra stacks-and-agents share the label `probe` (the commit → agent scenario).
 * `db`: a postgres:// URL to run the daemon on (default: a SQLite file in the temp directory).
 * `webhooks`: the daemon's outbound webhook options (DaemonOptions.webhooks).
 */
export async function startFleet({ stacks = 10_000, groups = 200, agents = 1_000, probes = 0, worktree = false, watch = false, log = 'info', execArgv = [], cpu = null, script = DAEMON, db, webhooks } = {}) {
  const tmp = mkdtempSync(join(tmpdir(), 'brokkr-bench-fleet-'));
  const repo = join(tmp, 'repo');
  let daemon = null;
  try {
    const g0 = performance.now();
    await generateRepo(repo, { stacks, groups, probes, worktree });
    const generateMs = performance.now() - g0;
    daemon = startWorker(script, { quiet: true, execArgv, cpu });
    const adminPak = `bench-admin-${randomBytes(16).toString('hex')}`;
    const started = await daemon.call({ cmd: 'start', repo, dir: join(tmp, 'data'), watch, log, adminPak, db, webhooks });
    const { agents: list } = await daemon.call({ cmd: 'agents', count: agents, groups, probes });
    return {
      tmp,
      repo,
      url: started.url,
      pid: started.pid,
      startMs: started.startMs,
      generateMs,
      adminPak,
      daemon,
      agents: list.filter((a) => a.label !== 'probe'),
      probes: list.filter((a) => a.label === 'probe'),
      async close() {
        await daemon.stop(30_000);
        rmSync(tmp, { recursive: true, force: true });
      },
    };
  } catch (err) {
    daemon?.kill();
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

export const statePath = (agent, wait) => `/api/v1/agents/${agent.id}/target-state${wait ? `?wait=${wait}` : ''}`;

/**
 * One target-state request: resolves { status, etag, headers, body, at } where `at` is
 * performance.now() when the response ended. `httpAgent` keeps the connection alive.
 */
export function getState(baseUrl, agent, { etag, wait, httpAgent, signal } = {}) {
  const url = new URL(statePath(agent, wait), baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        agent: httpAgent,
        signal,
        headers: { authorization: `Bearer ${agent.pak}`, ...(etag ? { 'if-none-match': etag } : {}) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, etag: res.headers.etag, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
