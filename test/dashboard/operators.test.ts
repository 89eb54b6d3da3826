/**
 * The dashboard for operators, in headless Chromium against a real daemon (temp git repository,
 * SQLite file, HTTP on a free port): a readonly PAK signs in, sees every view and a "Read-only"
 * badge, and gets no rollout buttons where an admin gets them; the Audit view lists who changed
 * what, filters it, and follows new changes live.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/daemon/daemon.js';
import type { TestRepo } from '../helpers/git-repo.js';
import { apiCaller, checkedPages } from './chromium.js';
import { startDashboardWorld, type DashboardWorld } from './dashboard-world.js';

const WAIT = { timeout: 15_000 };

let repo: TestRepo;
let world: DashboardWorld;
let daemon: Daemon;
let browser: Browser;
let adminPak: string;
let viewerPak: string;
let webId: string;
let agentId: string;

const call = apiCaller(() => daemon.url);

const { newPage, closePage } = checkedPages(() => browser);

async function signedIn(pak: string): Promise<Page> {
  const page = await newPage();
  await page.goto(daemon.url);
  await page.fill('#pak', pak);
  await page.click('button[type=submit]');
  await page.waitForSelector('h1:text("Overview")', WAIT);
  return page;
}

const go = (page: Page, hash: string) => page.evaluate((h) => (location.hash = h), hash);

beforeAll(async () => {
  world = await startDashboardWorld({
    'apps/web/stack.yaml': 'name: web\nlabels: [prod]\nrollout:\n  waves:\n    - labels: [canary]\n',
    'apps/web/deploy.yaml': 'kind: Deployment\nmetadata:\n  name: web\n',
  }, 'web rolls out canary first');
  ({ repo, daemon, adminPak, browser } = world);
  viewerPak = (await call<{ pak: string }>('POST', '/paks', adminPak, { name: 'viewer', role: 'readonly' })).pak;
  agentId = (await call<{ agent: { id: string } }>('POST', '/agents', adminPak, { name: 'canary-1', cluster_name: 'eu', labels: ['prod', 'canary'] })).agent.id;
  webId = (await call<{ id: string; name: string }[]>('GET', '/stacks', adminPak)).find((s) => s.name === 'web')!.id;
});

afterAll(() => world?.close());

describe('the dashboard for operators', () => {
  it('a readonly PAK signs in, sees the views with a Read-only badge, and no rollout buttons where an admin has them', async () => {
    const viewer = await signedIn(viewerPak);
    await expect.poll(() => viewer.textContent('#role'), WAIT).toBe('Read-only');
    expect(await viewer.isVisible('#role')).toBe(true);
    await go(viewer, '#/agents');
    await viewer.locator('[data-testid=agents] tr[data-agent="canary-1"]').waitFor(WAIT);
    await go(viewer, `#/stacks/${webId}`);
    await viewer.locator('[data-testid=rollout-waves]').waitFor(WAIT);

    const admin = await signedIn(adminPak);
    expect(await admin.isVisible('#role')).toBe(false);
    await go(admin, `#/stacks/${webId}`);
    await admin.locator('button[data-action=pause]').waitFor(WAIT);
    expect(await admin.locator('[data-testid=rollout] button').count()).toBe(3);
    // The admin's page drew its buttons; the viewer's, drawn from the same answer, has none.
    expect(await viewer.locator('[data-testid=rollout] button').count()).toBe(0);
    await closePage(admin);
    await closePage(viewer);
  });

  it('the Audit view lists who changed what, filters by action, and shows a new change live', async () => {
    const page = await signedIn(viewerPak);
    await go(page, '#/audit');
    const rows = page.locator('[data-testid=audit] tbody tr');
    await rows.first().waitFor(WAIT);
    expect(await page.locator('[data-testid=audit] tr[data-action="agent.created"] [data-column=actor]').textContent()).toBe('admin');
    expect(await page.locator('[data-testid=audit] tr[data-action="pak.created"] .details').textContent()).toBe('name=viewer role=readonly');

    await page.fill('#audit-action', 'label.*');
    await page.click('[data-testid=audit-filters] button[type=submit]');
    await expect.poll(() => page.textContent('[data-testid=audit-filters] + div'), WAIT).toBe('No entries match.');
    expect(await page.evaluate(() => location.hash)).toBe('#/audit?action=label.*');

    // An admin adds a label: the live feed wakes the view and the new entry appears without a reload.
    await page.evaluate(() => Object.assign(window, { noReloadMarker: true }));
    await call('POST', `/agents/${agentId}/labels`, adminPak, { label: 'eu-west' });
    await expect.poll(() => rows.count(), WAIT).toBe(1);
    expect(await rows.first().getAttribute('data-action')).toBe('label.added');
    expect(await rows.first().locator('.details').textContent()).toBe('label=eu-west');
    expect(await page.evaluate(() => (window as unknown as { noReloadMarker?: boolean }).noReloadMarker)).toBe(true);
    await closePage(page);
  });

  it('an agent PAK cannot open the dashboard', async () => {
    const { pak } = await call<{ pak: string }>('POST', `/agents/${agentId}/rotate-pak`, adminPak);
    const page = await browser.newPage();
    await page.goto(daemon.url);
    await page.fill('#pak', pak);
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('#login-error'), WAIT).toMatch(/not an operator PAK/);
    await page.close();
  });
});
