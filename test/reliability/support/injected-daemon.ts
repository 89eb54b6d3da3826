/**
 * The daemon as startDaemon wires it, but over a store whose
 * writes can be made to fail with the errors SQLite raises for a full disk, a read-only file or a
 * lock held elsewhere. Used where the real fault cannot be produced (no permission to mount).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../../../src/daemon/daemon.js';
import type { Store } from '../../../src/store/store.js';
import { captureLogger, type TestDaemon } from './daemon.js';

export type Fault = 'SQLITE_FULL' | 'SQLITE_READONLY' | 'SQLITE_BUSY';

const MESSAGES: Record<Fault, string> = {
  SQLITE_FULL: 'database or disk is full',
  SQLITE_READONLY: 'attempt to write a readonly database',
  SQLITE_BUSY: 'database is locked',
};

const WRITES = new Set<string>([
  'ensureGenerator', 'saveSyncTarget', 'setSyncFailure', 'applyCommit', 'setAdminPakHash', 'createAgent', 'updateAgent',
  'setAgentPakHash', 'recordHeartbeat', 'softDeleteAgent', 'addLabel', 'removeLabel', 'setAnnotation', 'removeAnnotation',
  'addTarget', 'removeTarget', 'createEvent',
]);

/** `dir` (default: a new temp dir, removed on close) holds the database. */
export async function startInjectedDaemon(opts: { repo: string; dir?: string }): Promise<TestDaemon & { setFault(f: Fault | null): void; writes: string[] }> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'brokkr-rel-injected-'));
  const dbPath = join(dir, 'brokkr.db');
  let fault: Fault | null = null;
  /** Names of the write methods called, in order (for "an idle pass writes nothing"). */
  const writes: string[] = [];
  const inject = (real: Store) =>
    new Proxy(real, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      if (!WRITES.has(String(key))) return value.bind(target);
      return async (...args: unknown[]) => {
        writes.push(String(key));
        if (fault) throw Object.assign(new Error(MESSAGES[fault]), { name: 'SqliteError', code: fault });
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
    }) as Store;
  const adminPak = 'brk_reliability-admin-pak-0123456789abcdef';
  const log = captureLogger('debug');
  // The real wiring, over the fault-injecting store.
  const daemon = await startDaemon({
    repo: opts.repo,
    db: dbPath,
    port: 0,
    intervalSeconds: 1,
    logger: log.logger,
    dashboard: false,
    env: { BROKKR_ADMIN_PAK: adminPak },
    wrapStore: inject,
  });
  const address = daemon.url;
  const call: TestDaemon['call'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const pak = o.pak === undefined ? adminPak : o.pak;
    if (pak !== null) headers.authorization = `Bearer ${pak}`;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(address + path, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body, text, headers: res.headers };
  };
  return {
    daemon,
    dir,
    engine: 'sqlite',
    dbPath,
    adminPak,
    log,
    call,
    setFault: (f) => (fault = f),
    writes,
    async close() {
      await daemon.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
