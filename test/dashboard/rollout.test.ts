/**
 * The rollout panel on a stack's page, in headless Chromium against a real daemon (temp git
 * repository, SQLite file, HTTP on a free port): waves, their agents and gate states, following
 * SUCCESS and FAILURE reports live; a halt and its reason; promote, pause and resume from the
 * buttons (checked through the API and the agents' target states); no buttons for a readonly
 * operator PAK; one line for a stack without waves.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/daemon/daemon.js';
import type { RolloutStatus } from '../../src/store/rollout-records.js';
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
type TestAgent = { id: string; pak: string };
let canary: TestAgent;
let prod: TestAgent;
let webId: string;
let plainId: string;

const call = apiCaller(() => daemon.url);

const rollout = () => call<RolloutStatus>('GET', `/stacks/${webId}/rollout`, adminPak);

/** The sequence of the web object the agent's target state holds (what its wave was released). */
async function heldBy(agent: TestAgent): Promise<number | null> {
  const objects = await call<{ stack_id: string; sequence_id: number }[]>('GET', `/agents/${agent.id}/target-state?mode=full`, agent.pak);
  return objects.find((o) => o.stack_id === webId)?.sequence_id ?? null;
}

/** The agent reports on the web object its target state holds, as a real agent would after applying it. */
async function report(agent: TestAgent, status: 'SUCCESS' | 'FAILURE', message?: string): Promise<void> {
  const objects = await call<{ id: string; stack_id: string }[]>('GET', `/agents/${agent.id}/target-state?mode=full`, agent.pak);
  const object = objects.find((o) => o.stack_id === webId)!;
  await call('POST', `/agents/${agent.id}/events`, agent.pak, { deployment_object_id: object.id, event_type: 'DEPLOY', status, ...(message ? { message } : {}) });
}

/** Commit a new web deployment and wait until the daemon synced it; returns its sequence. */
async function commitWeb(replicas: number): Promise<number> {
  const before = (await rollout().catch(() => null))?.target?.sequence_id ?? 0;
  repo.write('apps/web/deploy.yaml', `kind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: ${replicas}\n`).commit(`web: ${replicas} replicas`);
  let seq = 0;
  await expect
    .poll(async () => {
      const objects = await call<{ sequence_id: number }[]>('GET', `/stacks/${webId}/deployment-objects`, adminPak);
      seq = objects[0]?.sequence_id ?? 0;
      return seq > before;
    }, WAIT)
    .toBe(true);
  return seq;
}

/** Script errors and CSP violations seen by each page; every test ends by asserting there were none. */
const { newPage, closePage } = checkedPages(() => browser);

/** A signed-in page on a stack's page, its rollout panel drawn. */
async function stackPage(stackId: string, page?: Page, pak = adminPak): Promise<Page> {
  page ??= await newPage();
  await page.goto(daemon.url);
  await page.fill('#pak', pak);
  await page.click('button[type=submit]');
  await page.waitForSelector('h1:text("Overview")', WAIT);
  await page.evaluate((h) => (location.hash = h), `#/stacks/${stackId}`);
  await page.locator('[data-testid=rollout] > *').first().waitFor(WAIT);
  return page;
}

const wave = (page: Page, index: number) => page.locator(`[data-testid=rollout-waves] tr[data-wave="${index}"]`);
const gateOf = (page: Page, index: number, agentName: string) => wave(page, index).locator(`li[data-agent="${agentName}"]`).getAttribute('data-gate');
const headline = (page: Page) => page.textContent('[data-testid=rollout-headline]');

beforeAll(async () => {
  world = await startDashboardWorld({
    'apps/plain/stack.yaml': 'name: plain\nlabels: [prod]\n',
    'apps/plain/deploy.yaml': 'kind: Deployment\nmetadata:\n  name: plain\n',
  }, 'a stack without waves');
  ({ repo, daemon, adminPak, browser } = world);
  const agent = async (name: string, labels: string[]): Promise<TestAgent> => {
    const created = await call<{ agent: { id: string }; initial_pak: string }>('POST', '/agents', adminPak, { name, cluster_name: `${name}-cluster`, labels });
    return { id: created.agent.id, pak: created.initial_pak };
  };
  // The agents exist before the stack: its first object starts at wave 1 with both waves populated.
  canary = await agent('canary-1', ['prod', 'canary']);
  prod = await agent('prod-1', ['prod']);
  repo.writeAll({
    'apps/web/stack.yaml': 'name: web\nlabels: [prod]\nrollout:\n  waves:\n    - labels: [canary]\n',
    'apps/web/deploy.yaml': 'kind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n',
  });
  repo.commit('web rolls out canary first');
  // expect.poll works inside tests only.
  let stacks: { id: string; name: string }[] = [];
  for (const until = Date.now() + WAIT.timeout; !stacks.some((s) => s.name === 'web'); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() > until) throw new Error('the web stack was not synced');
    stacks = await call<{ id: string; name: string }[]>('GET', '/stacks', adminPak);
  }
  webId = stacks.find((s) => s.name === 'web')!.id;
  plainId = stacks.find((s) => s.name === 'plain')!.id;
});

afterAll(() => world?.close());

describe('the rollout panel in a browser', () => {
  it('a stack without waves says in one line that it reaches every agent at once', async () => {
    const page = await stackPage(plainId);
    await expect.poll(() => page.textContent('[data-testid=rollout]'), WAIT).toBe('No rollout: released to all agents at once.');
    expect(await page.locator('[data-testid=rollout-waves]').count()).toBe(0);
    await closePage(page);
  });

  it('shows the waves, their agents, released objects and gate states, and follows reports live', async () => {
    const v1 = (await rollout()).target!.sequence_id;
    const page = await stackPage(webId);
    await page.evaluate(() => Object.assign(window, { noReloadMarker: true }));
    await wave(page, 2).waitFor(WAIT);
    expect(await page.locator('[data-testid=rollout-waves] tbody tr').count()).toBe(2);
    expect(await wave(page, 1).locator('[data-column=selector]').textContent()).toBe('label canary');
    expect(await wave(page, 2).locator('[data-column=selector]').textContent()).toBe('every other agent');
    expect(await wave(page, 1).getAttribute('data-state')).toBe('released');
    expect(await wave(page, 1).locator('[data-column=released]').textContent()).toBe(`object ${v1}`);
    expect(await gateOf(page, 1, 'canary-1')).toBe('pending');
    expect(await wave(page, 2).getAttribute('data-state')).toBe('waiting');
    expect(await wave(page, 2).locator('[data-column=released]').textContent()).toBe('nothing yet');
    expect(await gateOf(page, 2, 'prod-1')).toBe('pending');
    expect(await headline(page)).toBe(`Rolling out object ${v1}: 1 of 2 waves released.`);

    // Wave 1 passes: wave 2 is released by the daemon, and the panel shows it without a reload.
    await report(canary, 'SUCCESS');
    await expect.poll(() => wave(page, 2).getAttribute('data-state'), WAIT).toBe('released');
    expect(await wave(page, 1).getAttribute('data-state')).toBe('passed');
    expect(await gateOf(page, 1, 'canary-1')).toBe('passed');
    expect(await wave(page, 2).locator('[data-column=released]').textContent()).toBe(`object ${v1}`);

    await report(prod, 'SUCCESS');
    // Wait on what the report changes: the headline says Complete as soon as every wave is released
    // (since wave 2's release above), so waiting on it raced with the refresh after this report.
    await expect.poll(() => gateOf(page, 2, 'prod-1'), WAIT).toBe('passed');
    expect(await headline(page)).toBe(`Complete: every wave runs object ${v1}.`);
    expect(await page.locator('[data-testid=rollout] [data-phase]').getAttribute('data-phase')).toBe('complete');
    // An admin PAK gets the buttons; nothing to promote or resume on a finished rollout.
    expect(await page.locator('button[data-action=promote]').getAttribute('aria-disabled')).toBe('true');
    expect(await page.locator('button[data-action=pause]').getAttribute('aria-disabled')).toBeNull();
    expect(await page.evaluate(() => (window as unknown as { noReloadMarker?: boolean }).noReloadMarker)).toBe(true);
    await closePage(page);
  });

  it('an agent’s FAILURE halts the rollout and the panel shows the reason; promote releases the next wave', async () => {
    const v1 = (await rollout()).target!.sequence_id;
    const page = await stackPage(webId);
    await page.evaluate(() => Object.assign(window, { noReloadMarker: true }));
    const v2 = await commitWeb(2);
    await expect.poll(() => headline(page), WAIT).toBe(`Rolling out object ${v2}: 1 of 2 waves released.`);

    await report(canary, 'FAILURE', 'ImagePullBackOff: web:2 not found');
    await expect.poll(() => headline(page), WAIT).toBe('Halted: wave 1: agent canary-1 reported FAILURE: ImagePullBackOff: web:2 not found');
    expect(await page.getAttribute('[data-testid=rollout-headline]', 'role')).toBe('alert');
    expect(await wave(page, 1).getAttribute('data-state')).toBe('failed');
    expect(await gateOf(page, 1, 'canary-1')).toBe('failed');
    expect(await wave(page, 1).locator('li[data-agent="canary-1"]').textContent()).toContain('ImagePullBackOff: web:2 not found');
    expect(await wave(page, 2).getAttribute('data-state')).toBe('held');
    expect(await wave(page, 2).locator('[data-column=released]').textContent()).toBe(`object ${v1} (previous)`);
    expect(await heldBy(prod)).toBe(v1);

    await page.click('button[data-action=promote]');
    await expect.poll(async () => (await rollout()).waves.map((w) => w.released?.sequence_id), WAIT).toEqual([v2, v2]);
    expect((await rollout()).halted).toBe(false);
    expect(await heldBy(prod)).toBe(v2);
    await expect.poll(() => wave(page, 2).getAttribute('data-state'), WAIT).toBe('released');
    expect(await page.textContent('[data-testid=rollout-outcome]')).toContain('Promoted.');
    expect(await headline(page)).not.toContain('Halted');
    // The button keeps keyboard focus through the redraw.
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.action)).toBe('promote');
    expect(await page.evaluate(() => (window as unknown as { noReloadMarker?: boolean }).noReloadMarker)).toBe(true);
    await closePage(page);
  });

  it('pause holds a new commit back until resume releases it from wave 1', async () => {
    const before = (await rollout()).target!.sequence_id;
    const page = await stackPage(webId);
    await page.click('button[data-action=pause]');
    await expect.poll(async () => (await rollout()).paused, WAIT).toBe(true);
    await expect.poll(() => page.locator('[data-testid=rollout] [data-phase]').getAttribute('data-phase'), WAIT).toBe('paused');
    expect(await page.locator('button[data-action=pause]').getAttribute('aria-disabled')).toBe('true');

    const v3 = await commitWeb(3);
    await expect.poll(() => headline(page), WAIT).toContain(`Object ${v3} (the newest) waits for resume.`);
    expect(await headline(page)).toContain('Paused: nothing new is released until resume');
    expect(await heldBy(canary)).toBe(before);
    expect((await rollout()).target!.sequence_id).toBe(before);

    await page.click('button[data-action=resume]');
    await expect.poll(async () => (await rollout()).paused, WAIT).toBe(false);
    expect((await rollout()).target!.sequence_id).toBe(v3);
    expect(await heldBy(canary)).toBe(v3);
    expect(await heldBy(prod)).toBe(before);
    await expect.poll(() => headline(page), WAIT).toBe(`Rolling out object ${v3}: 1 of 2 waves released.`);
    expect(await page.textContent('[data-testid=rollout-outcome]')).toContain('Resumed.');
    await closePage(page);
  });

  it('hides the buttons from a readonly operator PAK', async () => {
    const { pak } = await call<{ pak: string }>('POST', '/paks', adminPak, { name: 'rollout-viewer', role: 'readonly' });
    const page = await stackPage(webId, undefined, pak);
    await wave(page, 2).waitFor(WAIT);
    expect(await page.locator('[data-testid=rollout-headline]').count()).toBe(1);
    expect(await page.locator('[data-testid=rollout] button').count()).toBe(0);

    // The panel still follows changes for a reader.
    await report(canary, 'SUCCESS');
    await expect.poll(() => gateOf(page, 1, 'canary-1'), WAIT).toBe('passed');
    expect(await page.locator('[data-testid=rollout] button').count()).toBe(0);
    await closePage(page);
  });
});
