/**
 * A first sync larger than one batch (issue 16): the syncer validates every stack and keeps only
 * its checksum, and the store reads the contents again in batches while it applies the commit —
 * still one transaction, nothing visible before all of it is, nothing left when a read fails.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONTENT_BATCH_SIZE } from '../../src/store/content-batches.js';
import type { CommitPlan, Store } from '../../src/store/store.js';
import { contentBudget } from '../../src/sync/build-step.js';
import { ENGINES } from '../store/store-fixture.js';
import { configMap, makeSyncFixture, stackFiles, wrapStore, type SyncFixture } from './sync-fixture.js';

let fx: SyncFixture;
// A repository of 32 MiB of YAML would make slow tests: lower the budget so these commits exceed it.
const budget = contentBudget.bytes;
beforeEach(() => {
  contentBudget.bytes = 16 * 1024; // about 120 of these stacks
});
afterEach(async () => {
  contentBudget.bytes = budget;
  await fx?.cleanup();
});

const STACKS = CONTENT_BATCH_SIZE * 2 + 50; // three batches of contents
const dirOf = (i: number) => `svc-${String(i).padStart(4, '0')}`;

function bigRepo(files: Record<string, string> = {}): Record<string, string> {
  const all: Record<string, string> = {};
  for (let i = 0; i < STACKS; i++) Object.assign(all, stackFiles(dirOf(i), { labels: [`grp-${i % 7}`] }, `v${i}`));
  return { ...all, ...files };
}

/** Record the plans and count the content batches the store asks for; `during` runs at each batch. */
function observe(store: Store, during?: (batch: number) => void | Promise<void>): { store: Store; plans: CommitPlan[]; batches: number[] } {
  const plans: CommitPlan[] = [];
  const batches: number[] = [];
  const wrapped = wrapStore(store, {
    applyCommit: async (plan) => {
      plans.push(plan);
      const readContents = plan.readContents;
      if (!readContents) return store.applyCommit(plan);
      return store.applyCommit({
        ...plan,
        readContents: async (upserts) => {
          batches.push(upserts.length);
          await during?.(batches.length);
          return readContents(upserts);
        },
      });
    },
  });
  return { store: wrapped, plans, batches };
}

describe.each(ENGINES)('a first sync larger than one batch (%s)', (engine) => {
  it('keeps no content in the plan, streams it in batches, and lands every stack in one commit', async () => {
    fx = await makeSyncFixture({}, engine);
    const tip = fx.repo.writeAll(bigRepo()).commit('many stacks');
    const seen: number[] = [];
    const { store, plans, batches } = observe(fx.store, async () => {
      seen.push((await fx.store.listStacks()).length);
    });
    const report = await fx.newSyncer({ store }).syncOnce();
    expect(report.failure).toBeUndefined();
    expect(report.cursor).toBe(tip);
    expect(plans).toHaveLength(1);
    expect(plans[0]!.upserts.every((u) => u.content?.yaml === null && u.content.checksum.length > 0)).toBe(true);
    expect(batches).toEqual([CONTENT_BATCH_SIZE, CONTENT_BATCH_SIZE, 50]);
    expect(seen).toEqual([0, 0, 0]); // nothing of the commit visible while it is written
    expect(report.commits[0]!.created).toHaveLength(STACKS);
    expect((await fx.store.listStacks()).length).toBe(STACKS);
    // Contents are each stack's own, and the checksums those the plan validated.
    for (const i of [0, CONTENT_BATCH_SIZE + 1, STACKS - 1]) {
      const [object] = await fx.objects(dirOf(i));
      expect(object!.yaml_content).toBe(`---\n# Source: config.yaml\n${configMap(dirOf(i), { value: `v${i}` })}`);
      expect(object!.yaml_checksum).toBe(plans[0]!.upserts.find((u) => u.name === dirOf(i))!.content!.checksum);
    }
    expect((await fx.stack(dirOf(STACKS - 1))).labels).toEqual([`grp-${(STACKS - 1) % 7}`]);
  });

  it('a commit within the budget keeps its contents in the plan (no second read)', async () => {
    contentBudget.bytes = budget;
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('web'), ...stackFiles('db') }).commit('two stacks');
    const { store, plans, batches } = observe(fx.store);
    expect((await fx.newSyncer({ store }).syncOnce()).failure).toBeUndefined();
    expect(plans[0]!.readContents).toBeUndefined();
    expect(plans[0]!.upserts.map((u) => typeof u.content?.yaml)).toEqual(['string', 'string']);
    expect(batches).toEqual([]);
  });

  it('an invalid stack in a later batch gets its error, and the valid ones land with it', async () => {
    fx = await makeSyncFixture({}, engine);
    const bad = dirOf(STACKS - 3);
    fx.repo.writeAll(bigRepo({ [`${bad}/config.yaml`]: 'kind: [unclosed\n' })).commit('one broken');
    const report = await fx.sync();
    expect(report.commits[0]!.created).toHaveLength(STACKS - 1);
    expect(report.invalid_stacks).toEqual([bad]);
    expect(report.commits[0]!.errors.map((e) => e.file)).toEqual([`${bad}/config.yaml`]);
    expect(await fx.names()).not.toContain(bad);
    expect((await fx.objects(dirOf(STACKS - 1)))[0]!.yaml_content).toContain(`v${STACKS - 1}`);
  });

  it('a file that cannot be read again while the commit is written fails the pass and leaves nothing behind', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll(bigRepo()).commit('many stacks');
    // The repository loses a later batch's blob between validation and the write.
    const victim = dirOf(STACKS - 2);
    const oid = fx.repo.git('rev-parse', `HEAD:${victim}/config.yaml`).trim();
    const { store } = observe(fx.store, (batch) => {
      if (batch === 1) rmSync(join(fx.repo.path, '.git', 'objects', oid.slice(0, 2), oid.slice(2)));
    });
    const report = await fx.newSyncer({ store }).syncOnce();
    expect(report.failure?.code).toBe('GIT_UNAVAILABLE');
    expect(report.failure?.message).toMatch(/cannot read files: .*not found/);
    expect(report.cursor).toBeNull();
    expect(await fx.allStacks()).toEqual([]);
    expect((await fx.store.getSyncState((await fx.store.listGenerators())[0]!.id))?.cursor_commit ?? null).toBeNull();
  });
});
