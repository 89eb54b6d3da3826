/**
 * SPEC §9 isolation: an unreachable repository (a closed loopback port) and a slow one (a Git
 * server that holds every request) do not delay a commit of a third, local repository from
 * reaching a long-polling agent — even with a single fetch slot; the failing one's error is on its
 * own row, and it backs off (fewer failed passes than its interval would allow).
 *
 * No clock is asserted for the local commit: the slow server holds its requests for an hour (in
 * effect for ever: the daemon gives up on a remote after 120 s, src/git/open-git-source.ts), so a
 * local commit that waited for that fetch or its slot would never arrive within the test's wait.
 * Its arrival while the slow fetch is still held is the isolation. Its latency is printed.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRepositoryList } from '../../src/daemon/repository-spec.js';
import { makeRepoSync, type TestRepo } from '../helpers/git-repo.js';
import {
  closedPort,
  createAgent,
  longPollingAgent,
  startGitHttpServer,
  startRepoDaemon,
  tempDir,
  until,
  writeStack,
  type GitHttpServer,
  type RepoDaemon,
} from './support/world.js';

/** The slow server holds each request this long: beyond the test and the daemon's 120 s network timeout. */
const SLOW_MS = 3_600_000;
/** How long the agent may take to see the local commit: generous, and far below the slow fetch's hold. */
const LOCAL_WAIT_MS = 30_000;
const INTERVAL_S = 0.5;

let server: GitHttpServer | undefined;
let d: RepoDaemon | undefined;
let agent: ReturnType<typeof longPollingAgent> | undefined;
const repos: TestRepo[] = [];
const dirs: string[] = [];

afterAll(async () => {
  await agent?.stop();
  await server?.stop(); // first: a held fetch fails at once instead of keeping the daemon's close waiting
  await d?.close();
  for (const r of repos) r.cleanup();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function failuresOf(metrics: string, repository: string): number {
  const m = new RegExp(`^brokkr_repository_sync_failures_total\\{repository="${repository}"\\} (\\d+)`, 'm').exec(metrics);
  return m ? Number(m[1]) : 0;
}

describe('one daemon, three repositories, two of them in trouble', () => {
  it('a local commit reaches a long-polling agent while the others hang or fail; the failing one backs off on its own row', async () => {
    const local = makeRepoSync('brokkr-iso-local-');
    const slowSource = makeRepoSync('brokkr-iso-slow-');
    repos.push(local, slowSource);
    writeStack(local, 'apps/web', 'iso-web', 'v1').commit('web v1');
    writeStack(slowSource, 'apps/slow', 'iso-slow', 'v1', ['elsewhere']).commit('slow');
    server = await startGitHttpServer();
    server.publish('slow', slowSource);
    const port = await closedPort();
    const dir = tempDir();
    dirs.push(dir);

    const started = performance.now();
    d = await startRepoDaemon({
      dir,
      fetchConcurrency: 1, // one fetch slot for all: the slow repository holds it while it hangs
      repositories: parseRepositoryList([
        { name: 'down', url: `http://127.0.0.1:${port}/gone.git`, interval: INTERVAL_S },
        { name: 'slow', url: server.urlOf('slow'), interval: INTERVAL_S },
        { name: 'local', url: local.path, interval: 3600 }, // the ref watcher is its only trigger
      ]),
    });
    await d.daemon.firstSync;
    // An unreachable repository does not hold the daemon's readiness back: the others are served.
    expect((await d.call('GET', '/readyz', { pak: null })).status).toBe(200);
    const me = await createAgent(d.url, 'iso-agent');
    agent = longPollingAgent(d.url, me);
    await agent.waitFor((s) => s.some((o) => o.yaml_content?.includes('"v1"')), 'the first state');

    // From now on every request to the slow server hangs; wait until its fetch is in flight.
    server.setDelay(SLOW_MS);
    await until(() => server!.held() > 0, 'a fetch of the slow repository to be held', 20_000);

    writeStack(local, 'apps/web', 'iso-web', 'v2').commit('web v2');
    const committed = performance.now();
    const got = await agent.waitFor((s) => s.some((o) => o.yaml_content?.includes('"v2"')), 'the local commit at the agent', LOCAL_WAIT_MS);
    const latency = got.at - committed;
    expect(server.held(), 'the slow fetch was still hanging when the local commit arrived').toBeGreaterThan(0);

    // The unreachable repository's error is on its own row, nobody else's.
    const down = await d.generator('down');
    expect(down.last_error).toMatch(/127\.0\.0\.1/);
    expect(down.cursor_commit).toBeNull();
    expect(down.repository).toMatchObject({ name: 'down', origin: 'config' });
    expect((await d.generator('local')).last_error).toBeNull();
    expect((await d.generator('slow')).last_error).toBeNull();

    // Back-off: over ≥ 5 s an interval of 0.5 s would allow ~10 passes; doubling allows ~4.
    // At least 5 s of running and two failed passes (waited for, not assumed from the clock: a
    // loaded machine runs fewer passes); the upper bound is what load cannot raise.
    await until(
      async () => performance.now() - started >= 5_000 && failuresOf((await d!.call('GET', '/metrics')).text, 'down') >= 2,
      "5 s of running and two failed passes of 'down'",
      30_000,
    );
    const failures = failuresOf((await d.call('GET', '/metrics')).text, 'down');
    const elapsed = (performance.now() - started) / 1000;
    const ticks = Math.floor(elapsed / INTERVAL_S);
    expect(failures).toBeGreaterThanOrEqual(2);
    expect(failures).toBeLessThanOrEqual(Math.ceil(ticks / 2));
    // One error line per distinct failure: the log does not grow with the retries either.
    const errorLines = d.log.lines.filter((l) => l.repository === 'down' && l.level >= 50);
    expect(errorLines.length).toBeGreaterThanOrEqual(1);
    expect(errorLines.length).toBeLessThan(failures + 1);
    expect(errorLines.length).toBeLessThanOrEqual(2);
    console.log(`isolation: local commit → agent ${latency.toFixed(0)} ms while the slow fetch hung; 'down' failed ${failures}× in ${elapsed.toFixed(1)} s (${ticks} intervals)`);
  }, 90_000);
});
