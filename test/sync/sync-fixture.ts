/** Sync test fixture: a temp git repository, a database (a temp SQLite file or an emptied PostgreSQL database), and a syncer over both. */
import { join } from 'node:path';
import { ChangeFeed } from '../../src/change-feed.js';
import { openStore } from '../../src/store/open-store.js';
import type { StackDetail, Store, StoreEngine } from '../../src/store/store.js';
import type { SyncReport } from '../../src/sync/sync-report.js';
import { createSyncer, type Syncer, type SyncerOptions } from '../../src/sync/syncer.js';
import { makeRepo, makeTempDir, type TestRepo } from '../helpers/git-repo.js';
import { borrowTestDatabase } from '../support/postgres.js';

export interface SyncFixture {
  repo: TestRepo;
  store: Store;
  engine: StoreEngine;
  /** The database: a file path (sqlite) or a postgres:// URL. */
  dbPath: string;
  dataDir: string;
  feed: ChangeFeed;
  /** The default syncer (no watching), created on first use. */
  syncer: () => Syncer;
  /** A new syncer over the same store (options override the defaults). */
  newSyncer: (options?: Partial<SyncerOptions>) => Syncer;
  /** One pass with the default syncer; fails the test on a pass failure unless allowed. */
  sync: (opts?: { allowFailure?: boolean }) => Promise<SyncReport>;
  /** Every stack of the database, deleted ones included. */
  allStacks: () => Promise<StackDetail[]>;
  /** The live stack of that name (throws when there is none). */
  stack: (name: string) => Promise<StackDetail>;
  /** Names of the live stacks, sorted. */
  names: () => Promise<string[]>;
  /** Objects of the live stack of that name, newest first. */
  objects: (name: string) => ReturnType<Store['listObjects']>;
  cleanup: () => Promise<void>;
}

/** A fixture on a new temp file (sqlite, the default) or on an emptied database of the test file (postgres); call cleanup() after. */
export async function makeSyncFixture(options: Partial<SyncerOptions> = {}, engine: StoreEngine = 'sqlite'): Promise<SyncFixture> {
  const repo = await makeRepo('brokkr-sync-repo-');
  const tmp = makeTempDir('brokkr-sync-db-');
  const borrowed = engine === 'postgres' ? await borrowTestDatabase('sync') : null;
  const dbPath = borrowed?.url ?? join(tmp.path, 'brokkr.db');
  const dataDir = borrowed ? join(tmp.path, 'data') : `${dbPath}.d`;
  const store = await openStore(dbPath);
  const feed = new ChangeFeed();
  // The store announces every commit it applies; tests wait on the feed as the server does.
  store.onChange((change) => feed.notify(change.kind === 'objects' ? { stacks: change.stacks } : undefined));
  const syncers: Syncer[] = [];
  let main: Syncer | null = null;

  const newSyncer = (extra: Partial<SyncerOptions> = {}) => {
    const s = createSyncer({ store, repo: repo.path, dataDir, watch: false, ...options, ...extra });
    syncers.push(s);
    return s;
  };
  const syncer = () => (main ??= newSyncer());
  const allStacks = () => store.listStacks({ includeDeleted: true });
  const stack = async (name: string) => {
    const found = (await store.listStacks()).find((s) => s.name === name);
    if (!found) throw new Error(`no live stack named ${name}; live: ${(await store.listStacks()).map((s) => s.name).join(', ')}`);
    return found;
  };
  return {
    repo,
    store,
    engine,
    dbPath,
    dataDir,
    feed,
    syncer,
    newSyncer,
    async sync(opts = {}) {
      const report = await syncer().syncOnce();
      if (report.failure && !opts.allowFailure) throw new Error(`sync failed: ${report.failure.code}: ${report.failure.message}`);
      return report;
    },
    allStacks,
    stack,
    names: async () => (await store.listStacks()).map((s) => s.name).sort(),
    objects: async (name: string) => store.listObjects((await stack(name)).id),
    async cleanup() {
      for (const s of syncers) await s.stop();
      await store.close();
      borrowed?.release();
      repo.cleanup();
      tmp.cleanup();
    },
  };
}

/** The text of a stack.yaml. */
export function manifest(fields: { name?: string; description?: string; labels?: string[]; annotations?: Record<string, string> } = {}): string {
  const lines: string[] = [];
  if (fields.name !== undefined) lines.push(`name: ${fields.name}`);
  if (fields.description !== undefined) lines.push(`description: ${fields.description}`);
  if (fields.labels !== undefined) lines.push(`labels: [${fields.labels.join(', ')}]`);
  if (fields.annotations !== undefined) {
    lines.push('annotations:');
    for (const [k, v] of Object.entries(fields.annotations)) lines.push(`  ${k}: ${v}`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** A small valid Kubernetes resource. */
export function configMap(name: string, data: Record<string, string> = { key: 'value' }): string {
  const body = Object.entries(data)
    .map(([k, v]) => `  ${k}: "${v}"`)
    .join('\n');
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n${body}\n`;
}

/** Files of a simple stack at `dir`: a manifest and one ConfigMap. */
export function stackFiles(dir: string, fields: Parameters<typeof manifest>[0] = {}, value = 'v1'): Record<string, string> {
  return {
    [`${dir}/stack.yaml`]: manifest(fields),
    [`${dir}/config.yaml`]: configMap(dir.replace(/\//g, '-'), { value }),
  };
}

/** The store with some methods replaced (the rest bound to the real store): for counting and injecting failures. */
export function wrapStore(store: Store, overrides: Partial<Store>): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (Object.prototype.hasOwnProperty.call(overrides, key)) return overrides[key as keyof Store];
      const value = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
