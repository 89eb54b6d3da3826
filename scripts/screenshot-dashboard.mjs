/**
 * Screenshot of the dashboard for the README: a daemon over a temp repository made from
 * stacks.example/, a few agents reporting a mix of states, headless Chromium.
 *
 *   npm run build && node scripts/screenshot-dashboard.mjs [--dark] [--view matrix|overview|stacks|agents|history] [--out FILE]
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    dark: { type: 'boolean', default: false },
    view: { type: 'string', default: 'matrix' },
    out: { type: 'string', default: join(root, 'docs', 'dashboard-matrix.png') },
  },
});
const { startDaemon } = await import(join(root, 'dist/daemon/daemon.js'));

const work = mkdtempSync(join(tmpdir(), 'brokkr-screenshot-'));
const repo = join(work, 'repo');
const git = (...a) =>
  execFileSync('git', ['-c', 'user.name=Dana Ops', '-c', 'user.email=dana@example.com', ...a], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
cpSync(join(root, 'stacks.example'), repo, { recursive: true });
git('init', '-q', '-b', 'main');
git('add', '-A');
git('commit', '-q', '-m', 'Stacks for the EU and US fleets');

const daemon = await startDaemon({ repo, db: join(work, 'brokkr.db'), port: 0, env: {}, logger: pino({ level: 'silent' }), rateLimit: false });
let browser;
try {
  await daemon.firstSync;
  const admin = daemon.adminPak;
  const call = async (method, path, pak, body) => {
    const res = await fetch(`${daemon.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${pak}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : res.json();
  };
  const agents = {};
  for (const [name, cluster, labels, annotations] of [
    ['eu-prod-1', 'eu-west-1', ['prod', 'eu'], { region: 'eu-west-1' }],
    ['eu-prod-2', 'eu-west-1', ['prod', 'eu'], { region: 'eu-west-1' }],
    ['us-prod-1', 'us-east-1', ['prod'], { region: 'us-east-1' }],
    ['staging-1', 'eu-central-1', ['staging'], {}],
    ['ops-1', 'ops', ['ops'], {}],
  ]) {
    const { agent, initial_pak } = await call('POST', '/agents', admin, { name, cluster_name: cluster, labels, annotations });
    agents[name] = { id: agent.id, pak: initial_pak };
    await call('POST', `/agents/${agent.id}/heartbeat`, initial_pak);
  }
  const stackNames = Object.fromEntries((await call('GET', '/stacks?include_deleted=true', admin)).map((s) => [s.id, s.name]));
  /** Each agent reports on its target state; `decide(agent, stack)` says SUCCESS, FAILURE text, or null (no report). */
  const reportAll = async (decide) => {
    for (const [name, a] of Object.entries(agents)) {
      for (const o of await call('GET', `/agents/${a.id}/target-state?mode=incremental`, a.pak)) {
        const verdict = decide(name, stackNames[o.stack_id], o);
        if (verdict === null) continue;
        const type = o.is_deletion_marker ? 'DELETE' : 'DEPLOY';
        const body = verdict === 'SUCCESS' ? { status: 'SUCCESS' } : { status: 'FAILURE', message: verdict };
        await call('POST', `/agents/${a.id}/events`, a.pak, { deployment_object_id: o.id, event_type: type, ...body });
      }
    }
  };
  await reportAll((agent, stack) =>
    agent === 'eu-prod-2' && stack === 'redis-cache' ? 'OOMKilled: redis-cache exceeded its 256Mi memory limit' : 'SUCCESS',
  );
  // A removed stack (deleting until confirmed) and a new version of the web app (pending where not yet applied).
  rmSync(join(repo, 'monitoring', 'alerts'), { recursive: true });
  execFileSync('sed', ['-i', 's/replicas: 3/replicas: 4/', join(repo, 'web', 'deployment.yaml')]);
  git('add', '-A');
  git('commit', '-q', '-m', 'Scale the web app, retire the alert rules');
  await daemon.syncer.syncOnce();
  Object.assign(stackNames, Object.fromEntries((await call('GET', '/stacks?include_deleted=true', admin)).map((s) => [s.id, s.name])));
  await reportAll((agent, stack, o) => {
    if (o.is_deletion_marker) return agent === 'eu-prod-1' ? 'SUCCESS' : null;
    if (stack === 'web-app') return agent === 'eu-prod-1' ? 'SUCCESS' : null;
    return null;
  });

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1180, height: 620 }, colorScheme: args.dark ? 'dark' : 'light' });
  await page.goto(daemon.url);
  await page.fill('#pak', admin);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=repository]');
  const webApp = Object.entries(stackNames).find(([, name]) => name === 'web-app')?.[0];
  const hash = { overview: '', history: `stacks/${webApp}` }[args.view] ?? args.view;
  await page.evaluate((h) => (location.hash = `#/${h}`), hash);
  if (args.view === 'matrix') {
    const failed = page.locator('td[data-state=failed]').first();
    await failed.waitFor();
    await failed.hover();
  } else {
    await page.waitForSelector('main table, main .cards');
    if (args.view === 'history') await page.waitForSelector('[data-testid=diff]');
  }
  await page.waitForTimeout(300);
  mkdirSync(dirname(args.out), { recursive: true });
  await page.screenshot({ path: args.out, fullPage: true });
  console.log(`wrote ${args.out}`);
} finally {
  await browser?.close();
  await daemon.close();
  rmSync(work, { recursive: true, force: true });
}
