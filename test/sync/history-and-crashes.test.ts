/** SPEC §3 history rewrites (one step, a warning) and crash safety (no partial commit; a rerun equals an uninterrupted run). */
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Writable } from 'node:stream';
import type { Store, StoreEngine } from '../../src/store/store.js';
import { ENGINES, rawSql } from '../store/store-fixture.js';
import { makeSyncFixture, stackFiles, wrapStore, type SyncFixture } from './sync-fixture.js';

const fixtures: SyncFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.cleanup();
});
async function fixture(...args: Parameters<typeof makeSyncFixture>) {
  const f = await makeSyncFixture(...args);
  fixtures.push(f);
  return f;
}

/** A pino logger writing JSON lines into an array. */
function captureLogger(): { logger: pino.Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** What a database holds, independent of ids and timestamps: stacks with their object history. */
async function dump(store: Store) {
  const stacks = await store.listStacks({ includeDeleted: true });
  const out = [];
  for (const s of stacks) {
    const objects = await store.listObjects(s.id);
    out.push({
      name: s.name,
      path: s.path,
      deleted: s.deleted_at !== null,
      labels: [...s.labels].sort(),
      objects: objects.map((o) => ({ marker: o.is_deletion_marker, checksum: o.yaml_checksum, commit: o.commit?.subject, deleted: o.deleted_at !== null })),
    });
  }
  const state = (await store.listSyncStates())[0];
  const objectCount = out.reduce((n, s) => n + s.objects.length, 0);
  return { stacks: out.sort((a, b) => `${a.name}${a.deleted}`.localeCompare(`${b.name}${b.deleted}`)), cursor: state?.cursor_commit, objectCount };
}

/** A trigger failing the transaction that moves the cursor to `sha` (after its rows were written), in each engine's dialect. */
function failingCursorTrigger(engine: StoreEngine, sha: string): { create: string[]; drop: string[] } {
  if (engine === 'sqlite') {
    return {
      create: [
        `CREATE TRIGGER inject_failure BEFORE UPDATE OF cursor_commit ON sync_state
         WHEN NEW.cursor_commit = '${sha}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
      ],
      drop: ['DROP TRIGGER inject_failure'],
    };
  }
  return {
    create: [
      `CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`,
      `CREATE TRIGGER inject_failure BEFORE UPDATE OF cursor_commit ON sync_state
       FOR EACH ROW WHEN (NEW.cursor_commit = '${sha}') EXECUTE FUNCTION inject_failure()`,
    ],
    drop: ['DROP TRIGGER inject_failure ON sync_state', 'DROP FUNCTION inject_failure()'],
  };
}

describe.each(ENGINES)('history rewrites (%s)', (engine) => {
  it('a force reset compares the cursor tree with the new tip in one step and logs a warning', async () => {
    const { logger, lines } = captureLogger();
    const fx = await fixture({ logger }, engine);
    const base = fx.repo.writeAll({ ...stackFiles('keep', {}, 'k1'), ...stackFiles('change', {}, 'c1') }).commit('base');
    fx.repo.writeAll(stackFiles('change', {}, 'c2')).writeAll(stackFiles('added-then-lost')).commit('ahead 1');
    fx.repo.remove('keep').commit('ahead 2');
    await fx.sync();
    expect(await fx.names()).toEqual(['added-then-lost', 'change']);

    fx.repo.resetHard(base);
    const tip = fx.repo.writeAll(stackFiles('change', {}, 'c3')).writeAll(stackFiles('fresh')).commit('rewritten');
    const report = await fx.sync();

    expect(report.commits).toHaveLength(1);
    expect(report.commits[0]).toMatchObject({ mode: 'rewrite', commit: { sha: tip, subject: 'rewritten' } });
    expect(report.warnings.join('\n')).toMatch(/history rewrite/);
    expect(lines.some((l) => l.level === 40 && /history rewrite/.test(l.msg))).toBe(true);
    expect(await fx.names()).toEqual(['change', 'fresh', 'keep']);
    expect((await fx.objects('change'))[0]!.yaml_content).toContain('c3');
    expect((await fx.objects('change'))[0]!.commit!.sha).toBe(tip);
    // 'keep' (removed before the first sync) comes back as a new stack; 'added-then-lost' is deleted.
    expect(report.commits[0]!.created.map((c) => c.name).sort()).toEqual(['fresh', 'keep']);
    expect(report.commits[0]!.deleted.map((c) => c.name)).toEqual(['added-then-lost']);
    expect((await fx.allStacks()).find((s) => s.name === 'added-then-lost')!.deleted_at).not.toBeNull();
    expect((await fx.store.listSyncStates())[0]!.cursor_commit).toBe(tip);
  });

  it('a cursor commit that no longer exists in the repository is compared against the stored stacks', async () => {
    const fx = await fixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('a'), ...stackFiles('b') }).commit('one');
    await fx.sync();
    // A new orphan history: the old commits become unreachable and are pruned.
    fx.repo.git('checkout', '-q', '--orphan', 'fresh');
    fx.repo.git('rm', '-rq', '--cached', '.');
    fx.repo.remove('a');
    fx.repo.writeAll(stackFiles('c'));
    fx.repo.commit('orphan');
    fx.repo.git('branch', '-D', 'main');
    fx.repo.git('branch', '-m', 'main');
    fx.repo.git('reflog', 'expire', '--expire=now', '--all');
    fx.repo.git('gc', '-q', '--prune=now');
    const report = await fx.newSyncer().syncOnce();
    expect(report.failure).toBeUndefined();
    expect(report.commits[0]!.mode).toBe('rewrite');
    expect(report.warnings.join()).toMatch(/no longer in the repository/);
    expect(await fx.names()).toEqual(['b', 'c']);
  });
});

describe.each(ENGINES)('a changed --root (%s)', (engine) => {
  it('is compared with the stored stacks in one step: stacks keep their identity by name, the rest are deleted', async () => {
    const fx = await fixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('clusters/prod/web', { name: 'web' }), ...stackFiles('clusters/dev/web', { name: 'web-dev' }) }).commit('two');
    await fx.sync();
    const web = await fx.stack('web');
    const report = await fx.newSyncer({ root: 'clusters/prod' }).syncOnce();
    expect(report.failure).toBeUndefined();
    expect(report.commits[0]!.mode).toBe('rewrite');
    expect(report.warnings.join()).toMatch(/sync root changed/);
    expect(await fx.stack('web')).toMatchObject({ id: web.id, path: 'web' });
    expect(await fx.names()).toEqual(['web']);
    expect((await fx.store.listSyncStates())[0]!.root).toBe('clusters/prod');
    // The next pass under the new root is an ordinary incremental one.
    fx.repo.writeAll(stackFiles('clusters/prod/web', { name: 'web' }, 'v2')).commit('v2');
    const next = await fx.newSyncer({ root: 'clusters/prod' }).syncOnce();
    expect(next.commits.map((c) => c.mode)).toEqual(['incremental']);
    expect(next.commits[0]!.updated.map((u) => u.name)).toEqual(['web']);
  });
});

describe.each(ENGINES)('crash safety (%s)', (engine) => {
  /** Five commits touching two stacks, with a deletion and an error among them. */
  function writeHistory(fx: SyncFixture): string[] {
    const shas = [fx.repo.writeAll({ ...stackFiles('web', {}, 'w0'), ...stackFiles('db', {}, 'd0') }).commit('c0')];
    shas.push(fx.repo.writeAll(stackFiles('web', { labels: ['prod'] }, 'w1')).commit('c1'));
    shas.push(fx.repo.writeAll(stackFiles('cache')).write('db/stack.yaml', 'oops: 1\n').commit('c2'));
    shas.push(fx.repo.remove('web').commit('c3'));
    shas.push(fx.repo.writeAll(stackFiles('db', {}, 'd4')).commit('c4'));
    return shas;
  }

  it('a failure inside the transaction leaves no partial commit, and a rerun yields what an uninterrupted run does', async () => {
    // The reference: an uninterrupted run over the same history (same tree contents, so same checksums).
    const ref = await fixture({}, engine);
    writeHistory(ref);
    ref.repo.resetHard('HEAD~4');
    await ref.sync(); // snapshot of c0
    ref.repo.resetHard('ORIG_HEAD');
    await ref.sync();

    const fx = await fixture({}, engine);
    const shas = writeHistory(fx);
    fx.repo.resetHard(shas[0]!);
    await fx.sync();
    fx.repo.resetHard(shas[4]!);

    // Fail at the very end of the c3 transaction (moving the cursor), after its rows were written.
    const raw = rawSql(fx.engine, fx.dbPath);
    const trigger = failingCursorTrigger(fx.engine, shas[3]!);
    for (const sql of trigger.create) await raw.exec(sql);
    const failed = await fx.newSyncer().syncOnce();
    expect(failed.failure).toMatchObject({ code: 'STORE_FAILED' });
    expect(failed.failure!.message).toMatch(/injected failure/);
    expect(failed.commits.map((c) => c.commit.sha)).toEqual([shas[1], shas[2]]);
    // Nothing of c3: web is still live, the cursor is at c2, the failure is recorded.
    expect(await fx.names()).toContain('web');
    const state = (await fx.store.listSyncStates())[0]!;
    expect(state.cursor_commit).toBe(shas[2]);
    expect(state.last_error).toMatch(/injected failure/);

    for (const sql of trigger.drop) await raw.exec(sql);
    const rerun = await fx.newSyncer().syncOnce();
    expect(rerun.failure).toBeUndefined();
    expect(rerun.commits.map((c) => c.commit.sha)).toEqual([shas[3], shas[4]]);
    expect((await fx.store.listSyncStates())[0]!.last_error).toBeNull();

    const expected = await dump(ref.store);
    const actual = await dump(fx.store);
    // Same stacks, same object histories (checksums, markers, commits), same number of objects.
    expect({ ...actual, cursor: undefined }).toEqual({ ...expected, cursor: undefined });
  });

  it('a crash after the store committed but before the syncer saw it neither loses nor duplicates a commit', async () => {
    const fx = await fixture({}, engine);
    const shas = writeHistory(fx);
    fx.repo.resetHard(shas[0]!);
    await fx.sync();
    fx.repo.resetHard(shas[4]!);
    let calls = 0;
    const crashing = wrapStore(fx.store, {
      applyCommit: async (plan) => {
        const result = await fx.store.applyCommit(plan);
        if (++calls === 2) throw new Error('process died right after COMMIT');
        return result;
      },
    });
    const first = await fx.newSyncer({ store: crashing }).syncOnce();
    expect(first.failure).toBeDefined();
    expect((await fx.store.listSyncStates())[0]!.cursor_commit).toBe(shas[2]);
    const rerun = await fx.newSyncer().syncOnce();
    expect(rerun.commits.map((c) => c.commit.sha)).toEqual([shas[3], shas[4]]);
    // Exactly one object per changing commit: db has d0 and d4 (c2 broke it: no object).
    expect((await fx.objects('db')).map((o) => o.commit!.subject)).toEqual(['c4', 'c0']);
    expect((await fx.objects('cache')).map((o) => o.commit!.subject)).toEqual(['c2']);
  });
});
