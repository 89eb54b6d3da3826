/** `npm start` = `brokkr-sync demo`: first start creates the demo repository and prints URL, PAK and next steps. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { makeTempDir } from '../helpers/git-repo.js';
import { freePort, killAll, requireBuild, startCli } from './cli-process.js';

let work: { path: string; cleanup(): void };
beforeAll(() => {
  requireBuild();
  work = makeTempDir('brokkr-e2e-demo-');
});
afterAll(() => {
  killAll();
  work?.cleanup();
});

describe('brokkr-sync demo', () => {
  // No global git identity: the demo must still commit (HOME points at an empty folder).
  const env = () => ({ HOME: join(work.path, 'home'), GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' });

  it('first start creates the demo repository, serves it, and prints the URL, the admin PAK and the next steps', async () => {
    const demo = startCli(['demo', '--dir', '.brokkr', '--port', '0'], { cwd: work.path, env: env() });
    const m = await demo.waitFor(/Admin PAK\s+(brk_\S+)[\s\S]*Stop with Ctrl-C/, 'the banner');
    const out = demo.stdout();
    const url = out.match(/URL \(API \+ dashboard\)\s+(http:\/\/\S+)/)![1];
    expect(out).toContain('created now from stacks.example/, 6 stacks');
    expect(out).toContain(`export BROKKR_URL=${url}`);
    expect(out).toContain('export BROKKR_PAK=$(cat .brokkr/brokkr.db.admin-pak)');
    expect(out).toContain('npx brokkr-sync agents create demo-agent --cluster local --label prod');
    expect(out).toContain('npx brokkr-sync agent --pak');
    expect(readFileSync(join(work.path, '.brokkr/brokkr.db.admin-pak'), 'utf8').trim()).toBe(m[1]);
    expect(existsSync(join(work.path, '.brokkr/demo-repo/web/stack.yaml'))).toBe(true);
    const log = execFileSync('git', ['-C', join(work.path, '.brokkr/demo-repo'), 'log', '--format=%an|%s'], { encoding: 'utf8', env: { ...process.env, ...env() } });
    expect(log.trim()).toBe('brokkr-sync demo|Demo stacks from stacks.example/');
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    const stacks = await fetch(`${url}/api/v1/stacks`, { headers: { authorization: `Bearer ${m[1]}` } });
    expect(((await stacks.json()) as unknown[]).length).toBe(6);
    expect(await demo.stop('SIGTERM')).toBe(0);
  }, 60_000);

  it('a second start keeps the repository and shows the same admin PAK', async () => {
    const first = readFileSync(join(work.path, '.brokkr/brokkr.db.admin-pak'), 'utf8').trim();
    const demo = startCli(['demo', '--dir', '.brokkr', '--port', '0'], { cwd: work.path, env: env() });
    await demo.waitFor(/Stop with Ctrl-C/, 'the banner');
    expect(demo.stdout()).toContain('kept from last time');
    expect(demo.stdout()).toContain(first);
    expect(await demo.stop('SIGTERM')).toBe(0);
  }, 60_000);

  // Ctrl-C is handled from the very start: during start-up (here right after the daemon listens,
  // before its first sync and the banner) it stops the daemon cleanly instead of killing it.
  it('a SIGTERM during start-up (right after the daemon listens) stops the demo cleanly, exit 0', async () => {
    const demo = startCli(['demo', '--dir', '.brokkr', '--port', '0'], { cwd: work.path, env: env() });
    await demo.waitFor(/ serving /, 'the daemon listening');
    expect(await demo.stop('SIGTERM')).toBe(0);
    expect(demo.stderr()).toContain('SIGTERM: stopping the demo daemon');
    expect(demo.stderr()).toMatch(/ stopped\n/);
  }, 60_000);

  it('a busy port is a clear error that says how to pick another', async () => {
    const port = await freePort();
    const blocker = startCli(['demo', '--dir', '.brokkr-a', '--port', String(port)], { cwd: work.path, env: env() });
    await blocker.waitFor(/Stop with Ctrl-C/, 'the first demo');
    const second = startCli(['demo', '--dir', '.brokkr-b', '--port', String(port)], { cwd: work.path, env: env() });
    expect(await second.exited()).toBe(1);
    expect(second.stderr()).toContain(`port ${port} on 127.0.0.1 is already in use`);
    expect(second.stderr()).toContain(`npm start -- --port ${port + 1}`);
    expect(await blocker.stop('SIGTERM')).toBe(0);
  }, 60_000);
});
