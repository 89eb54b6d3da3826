/**
 * The dashboard in headless Chromium against a real daemon (temp git repository, SQLite file,
 * HTTP on a free port): sign-in, stacks, live matrix updates from commits and agent reports,
 * sync errors, history diff, keyboard use.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/daemon/daemon.js';
import type { TestRepo } from '../helpers/git-repo.js';
import { apiCaller, checkedPages } from './chromium.js';
import { startDashboardWorld, type DashboardWorld } from './dashboard-world.js';

/** Upper bound for a UI change to show up; the assertions are about the change, not its speed. */
const WAIT = { timeout: 15_000 };

let repo: TestRepo;
let world: DashboardWorld;
let daemon: Daemon;
let browser: Browser;
let adminPak: string;
let agent: { id: string; pak: string };

const call = apiCaller(() => daemon.url);

/** The agent reports on the latest object of a stack, as a real agent would after applying it. */
async function report(stackName: string, status: 'SUCCESS' | 'FAILURE', message?: string): Promise<void> {
  const stacks = await call<{ id: string; name: string }[]>('GET', '/stacks', adminPak);
  const stackId = stacks.find((s) => s.name === stackName)!.id;
  const objects = await call<{ id: string; stack_id: string }[]>('GET', `/agents/${agent.id}/target-state?mode=full`, agent.pak);
  const object = objects.find((o) => o.stack_id === stackId)!;
  await call('POST', `/agents/${agent.id}/events`, agent.pak, { deployment_object_id: object.id, event_type: 'DEPLOY', status, ...(message ? { message } : {}) });
}

/** Script errors and CSP violations seen by each page; every test ends by asserting there were none. */
const { newPage, closePage } = checkedPages(() => browser);

async function signedInPage(hash = ''): Promise<Page> {
  const page = await newPage();
  await page.goto(daemon.url);
  await page.fill('#pak', adminPak);
  await page.click('button[type=submit]');
  await page.waitForSelector('h1:text("Overview")', WAIT);
  if (hash) await page.evaluate((h) => (location.hash = h), hash);
  return page;
}

const cell = (page: Page, stack: string, agentName: string) => page.locator(`td[data-stack="${stack}"][data-agent="${agentName}"]`);

beforeAll(async () => {
  world = await startDashboardWorld({
    'apps/web/stack.yaml': 'name: web\nlabels: [prod]\nannotations:\n  tier: frontend\n',
    'apps/web/deploy.yaml': 'kind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n',
    'apps/api/stack.yaml': 'name: api\nlabels: [prod]\n',
    'apps/api/deploy.yaml': 'kind: Deployment\nmetadata:\n  name: api\n',
  }, 'initial stacks');
  ({ repo, daemon, adminPak, browser } = world);
  const created = await call<{ agent: { id: string }; initial_pak: string }>('POST', '/agents', adminPak, { name: 'edge-1', cluster_name: 'eu-1', labels: ['prod'] });
  agent = { id: created.agent.id, pak: created.initial_pak };
});

afterAll(() => world?.close());

describe('dashboard in a browser', () => {
  it('asks for the admin PAK once, keeps it in session storage and never puts it in a URL', async () => {
    const page = await newPage();
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    await page.goto(daemon.url);

    await page.fill('#pak', 'brk_not-a-real-key');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('#login-error'), WAIT).toContain('Unknown PAK');

    await page.fill('#pak', agent.pak);
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('#login-error'), WAIT).toContain('not an operator PAK');

    await page.fill('#pak', adminPak);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=repository]', WAIT);
    expect(await page.textContent('[data-testid=repository]')).toContain(repo.path);
    expect(await page.evaluate(() => sessionStorage.getItem('brokkr-sync.admin-pak'))).toBe(adminPak);

    await page.reload();
    await page.waitForSelector('[data-testid=repository]', WAIT);
    expect(await page.locator('#pak').count()).toBe(0);
    for (const url of [...urls, page.url()]) expect(url).not.toContain(adminPak);

    await page.click('#sign-out');
    await page.waitForSelector('#pak', WAIT);
    expect(await page.evaluate(() => sessionStorage.getItem('brokkr-sync.admin-pak'))).toBeNull();
    await closePage(page);
  });

  it("lists the repository's stacks with labels, annotations, commit and author", async () => {
    const page = await signedInPage('#/stacks');
    const web = page.locator('tr[data-stack="web"]');
    await web.waitFor(WAIT);
    const text = await web.textContent();
    expect(text).toContain('prod');
    expect(text).toContain('tier=frontend');
    expect(text).toContain('initial stacks');
    expect(text).toContain('Test Author');
    expect(await page.locator('tr[data-stack="api"]').count()).toBe(1);
    // The repository column names where each stack comes from (a --repo repository by its path),
    // and the repository filter lists it and keeps the choice in the address.
    const repository = await web.locator('td[data-column="repository"]').textContent();
    expect(repository).toContain(repo.path);
    expect(await page.locator('#repo-filter option').allTextContents()).toEqual(['All repositories', repository]);
    await page.selectOption('#repo-filter', repository!);
    expect(await page.locator('tr[data-stack="web"]').count()).toBe(1);
    expect(decodeURIComponent(page.url())).toContain(`repo=${repository}`);
    await closePage(page);
  });

  it('a commit and an agent report change the matrix cell without a reload', async () => {
    const page = await signedInPage('#/matrix');
    await page.evaluate(() => Object.assign(window, { noReloadMarker: true }));
    await expect.poll(() => cell(page, 'web', 'edge-1').getAttribute('data-state'), WAIT).toBe('pending');

    await report('web', 'SUCCESS');
    await expect.poll(() => cell(page, 'web', 'edge-1').getAttribute('data-state'), WAIT).toBe('applied');
    expect(await cell(page, 'web', 'edge-1').textContent()).toContain('applied');

    repo.write('apps/web/deploy.yaml', 'kind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n').commit('scale web to 3');
    await expect.poll(() => cell(page, 'web', 'edge-1').getAttribute('data-state'), WAIT).toBe('pending');

    await report('web', 'FAILURE', 'ImagePullBackOff: web:3 not found');
    await expect.poll(() => cell(page, 'web', 'edge-1').getAttribute('data-state'), WAIT).toBe('failed');
    expect(await cell(page, 'web', 'edge-1').getAttribute('title')).toContain('ImagePullBackOff');
    await cell(page, 'web', 'edge-1').focus();
    expect(await page.textContent('[data-testid=cell-detail]')).toContain('ImagePullBackOff: web:3 not found');

    expect(await page.evaluate(() => (window as unknown as { noReloadMarker?: boolean }).noReloadMarker)).toBe(true);
    await closePage(page);
  });

  it('moves between matrix cells with the arrow keys', async () => {
    const page = await signedInPage('#/matrix');
    await cell(page, 'api', 'edge-1').waitFor(WAIT);
    await page.focus('td[data-stack="api"]');
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.stack)).toBe('web');
    expect(await page.textContent('[data-testid=cell-detail]')).toContain('web on edge-1');
    await closePage(page);
  });

  it('shows a sync error with its file and line after an invalid stack.yaml is committed', async () => {
    const page = await signedInPage();
    await page.waitForSelector('[data-testid=no-errors]', WAIT);
    await page.evaluate(() => Object.assign(window, { noReloadMarker: true }));
    // A commit whose only effect is a sync error: no stack object changes, only the cursor and
    // the errors (announced as a 'sync' change, which wakes the page's /changes long poll).
    repo.write('apps/bad/stack.yaml', 'name: bad\nlabels: [prod]\nlabelz: [typo]\n').commit('add a stack with a typo');
    const errors = page.locator('section.problem');
    await errors.waitFor(WAIT);
    const text = await errors.textContent();
    expect(text).toMatch(/apps\/bad\/stack\.yaml:\d+/);
    expect(text).toContain('labelz');
    expect(await page.evaluate(() => (window as unknown as { noReloadMarker?: boolean }).noReloadMarker)).toBe(true);

    await page.evaluate(() => (location.hash = '#/stacks'));
    await page.locator('section.problem').waitFor(WAIT);
    expect(await page.locator('section.problem').textContent()).toContain('apps/bad/stack.yaml');
    await closePage(page);
  });

  it('diffs two objects in the history of a stack', async () => {
    const stacks = await call<{ id: string; name: string }[]>('GET', '/stacks', adminPak);
    const web = stacks.find((s) => s.name === 'web')!;
    const page = await signedInPage(`#/stacks/${web.id}`);
    await page.locator('[data-testid=history] tbody tr').nth(1).waitFor(WAIT);
    expect(await page.locator('[data-testid=history] tbody tr').count()).toBe(2);
    expect(await page.textContent('[data-testid=diff-summary]')).toContain('1 line added, 1 removed');
    expect(await page.locator('[data-testid=diff] tr.add').textContent()).toContain('replicas: 3');
    expect(await page.locator('[data-testid=diff] tr.del').textContent()).toContain('replicas: 2');

    // Choosing the same object on both sides: nothing to show.
    await page.locator('[data-testid=history] tbody tr').nth(0).locator('input[name=side-a]').check();
    await expect.poll(() => page.textContent('[data-testid=diff-summary]'), WAIT).toContain('same object');
    await closePage(page);
  });

  it('shows each agent’s health on the stack page, and its change without a reload', async () => {
    const stacks = await call<{ id: string; name: string }[]>('GET', '/stacks', adminPak);
    const api = stacks.find((s) => s.name === 'api')!;
    const objects = await call<{ id: string; stack_id: string }[]>('GET', `/agents/${agent.id}/target-state?mode=full`, agent.pak);
    const object = objects.find((o) => o.stack_id === api.id)!;
    // brokkr's answer is a 200 with no body, which `call` would try to parse.
    const health = async (status: string, summary: string) => {
      const res = await fetch(`${daemon.url}/api/v1/agents/${agent.id}/health-status`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${agent.pak}`, 'content-type': 'application/json' },
        body: JSON.stringify({ deployment_objects: [{ id: object.id, status, summary }] }),
      });
      expect(res.status).toBe(200);
    };
    await health('degraded', '1/3 pods ready');
    const page = await signedInPage(`#/stacks/${api.id}`);
    const table = page.locator('[data-testid=health]');
    await table.waitFor(WAIT);
    expect(await table.locator('caption').textContent()).toContain('Health: degraded');
    expect(await table.locator('tbody tr th[scope=row]').count()).toBe(1);
    expect(await table.locator('tbody tr').textContent()).toContain('1/3 pods ready');
    await health('healthy', 'all pods ready');
    await expect.poll(() => table.locator('tbody tr').textContent(), WAIT).toContain('all pods ready');
    expect(await table.locator('.badge.ok').textContent()).toBe('healthy');
    await closePage(page);
  });
});
