/** An in-process daemon (startDaemon) over a temp SQLite file or a PostgreSQL database, with its log lines captured for assertions. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startDaemon, type Daemon, type DaemonOptions } from '../../../src/daemon/daemon.js';
import type { StoreEngine } from '../../../src/store/store.js';
import { borrowTestDatabase } from '../../support/postgres.js';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger (with the daemon's redaction settings) whose JSON lines land in `lines`. */
export function captureLogger(level = 'info'): { logger: pino.Logger; lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as LogLine);
      }
      done();
    },
  });
  const logger = pino(
    {
      level,
      redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'pak', 'initial_pak', '*.pak', '*.initial_pak'], censor: '[redacted]' },
    },
    stream,
  );
  return { logger, lines, text: () => raw.join('\n') };
}

export interface TestDaemon {
  daemon: Daemon;
  dir: string;
  engine: StoreEngine;
  /** The database: a file path (sqlite) or a postgres:// URL. */
  dbPath: string;
  adminPak: string;
  log: ReturnType<typeof captureLogger>;
  /** fetch against the daemon with a PAK (admin by default). */
  call(method: string, path: string, opts?: { pak?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any; text: string; headers: Headers }>;
  close(): Promise<void>;
}

const ADMIN_PAK = 'brk_reliability-admin-pak-0123456789abcdef';

/**
 * Start a daemon on 127.0.0.1:0 with a known admin PAK; the caller awaits `daemon.firstSync` when
 * it needs it. Its database is `db` when given, else `dir/brokkr.db` (sqlite, the default) or an
 * emptied database of the test file (postgres, clones under `dir/data`), released on close.
 */
export async function startTestDaemon(
  options: Partial<DaemonOptions> & { repo: string; dir?: string; engine?: StoreEngine },
): Promise<TestDaemon> {
  const { engine = 'sqlite', ...daemonOptions } = options;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'brokkr-rel-daemon-'));
  const borrowed = engine === 'postgres' && !options.db ? await borrowTestDatabase('daemon') : null;
  const dbPath = options.db ?? borrowed?.url ?? join(dir, 'brokkr.db');
  const log = captureLogger('debug');
  let daemon: Daemon;
  try {
    daemon = await startDaemon({
      port: 0,
      host: '127.0.0.1',
      dashboard: false,
      intervalSeconds: 1,
      logger: log.logger,
      env: { BROKKR_ADMIN_PAK: ADMIN_PAK },
      ...(engine === 'postgres' ? { dataDir: join(dir, 'data') } : {}),
      ...daemonOptions,
      db: dbPath,
    });
  } catch (err) {
    borrowed?.release();
    throw err;
  }
  const call: TestDaemon['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const pak = opts.pak === undefined ? ADMIN_PAK : opts.pak;
    if (pak !== null) headers.authorization = `Bearer ${pak}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(daemon.url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  };
  let closed = false;
  return {
    daemon,
    dir,
    engine,
    dbPath,
    adminPak: ADMIN_PAK,
    log,
    call,
    async close() {
      if (closed) return;
      closed = true;
      await daemon.close();
      borrowed?.release();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
