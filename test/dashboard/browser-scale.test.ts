/** The dashboard in headless Chromium with a big fleet (1,000 stacks × 100 agents): paged matrix and stacks, filters. */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon/daemon.js';
import { makeRepo, makeTempDir, type TestRepo } from '../helpers/git-repo.js';
import { launchChromium, requireBrowserPrerequisites } from './chromium.js';
import { buildFleet } from './matrix-fixture.js';

const WAIT = { timeout: 15_000 };

let repo: TestRepo;
let data: { path: string; cleanup(): void };
let daemon: Daemon;
let browser: Browser;
let page: Page;

/**
 * The setup writes 1,001 stacks, 100 agents and 5,000 events one store call at a time, then starts
 * Chromium: about 10 s on a busy 2-core machine, and past the 30 s default hook timeout when the
 * suite's other files load it too (it timed out so running with test/dashboard + test/e2e and two busy loops).
 * Nothing here is about speed, so the setup gets a bound of its own.
 */
const SETUP_TIMEOUT_MS = 120_000;

beforeAll(async () => {
  requireBrowserPrerequisites();
  repo = await makeRepo();
  repo.write('app/stack.yaml', 'name: app\n').write('app/cm.yaml', 'kind: ConfigMap\n').commit('one stack');
  data = makeTempDir('brokkr-dash-scale-');
  daemon = await startDaemon({ repo: repo.path, db: join(data.path, 'brokkr.db'), port: 0, env: {}, logger: pino({ level: 'silent' }), rateLimit: false });
  await daemon.firstSync;
  // A second generator holds the big fleet; the first five agents have reported on everything.
  await buildFleet(daemon.store, { stacks: 1000, agents: 100, report: (a, s) => (a >= 5 ? null : (a + s) % 50 === 0 ? 'FAILURE' : 'SUCCESS') });
  daemon.feed.notify();
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(daemon.url);
  await page.fill('#pak', daemon.adminPak!);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=repository]', WAIT);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await daemon?.close();
  repo?.cleanup();
  data?.cleanup();
});

const pagerText = () => page.textContent('nav.pager span');

describe('dashboard with 1,000 stacks and 100 agents', () => {
  it('shows the matrix 50 stacks at a time with every agent as a column', async () => {
    await page.evaluate(() => (location.hash = '#/matrix'));
    await expect.poll(pagerText, WAIT).toBe('Stacks 1–50 of 1001');
    expect(await page.locator('[data-testid=matrix] thead th').count()).toBe(101);
    expect(await page.locator('[data-testid=matrix] tbody tr').count()).toBe(50);
    await page.click('nav.pager button:has-text("Next")');
    await expect.poll(pagerText, WAIT).toBe('Stacks 51–100 of 1001');
    expect(page.url()).toContain('offset=50');
  });

  it('filters matrix rows by stack name and by state', async () => {
    await page.fill('#matrix-q', 'stack-0999');
    await expect.poll(pagerText, WAIT).toBe('Stacks 1–1 of 1');
    expect(await page.locator('td[data-stack="stack-0999"][data-agent="agent-000"]').getAttribute('data-state')).toBe('applied');
    expect(await page.locator('td[data-stack="stack-0999"][data-agent="agent-099"]').getAttribute('data-state')).toBe('pending');
    await page.fill('#matrix-q', '');
    await page.selectOption('#matrix-state', 'failed');
    // (a + s) % 50 === 0 for some a < 5: 5 of every 50 stacks.
    await expect.poll(pagerText, WAIT).toBe('Stacks 1–50 of 100');
    const rows = await page.locator('[data-testid=matrix] tbody tr').all();
    for (const row of rows.slice(0, 5)) expect(await row.locator('td[data-state=failed]').count()).toBe(1);
  });

  it('pages the stacks list', async () => {
    await page.evaluate(() => (location.hash = '#/stacks'));
    await expect.poll(() => page.textContent('[data-testid=stacks] caption'), WAIT).toBe('1001 stacks');
    expect(await pagerText()).toBe('Page 1 of 11');
    expect(await page.locator('[data-testid=stacks] tbody tr').count()).toBe(100);
  });
});
