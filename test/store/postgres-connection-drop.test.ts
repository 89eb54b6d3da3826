/**
 * A PostgreSQL connection that is cut right as it is handed out must not kill the process.
 *
 * A server shutting down (or restarting) can send ReadyForQuery and, at once, "FATAL 57P01
 * terminating connection due to administrator command". On a loaded machine both arrive in one
 * read, and pg parses the second before a transaction's `await pool.connect()` resumes: if the
 * error listener is attached only after that await, the client emits 'error' with no listener —
 * an uncaught exception that ended a replica in the middle of the PostgreSQL restart test.
 * This fake server always sends both in one write, so the race is taken every time.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PgDb } from '../../src/store/postgres/pg-db.js';
import { StoreUnavailableError } from '../../src/store/store.js';

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** AuthenticationOk, ReadyForQuery (idle), then the shutdown's FATAL — one write, then close. */
const READY_THEN_TERMINATED = Buffer.concat([
  message('R', int32(0)),
  message('Z', Buffer.from('I', 'latin1')),
  message('E', Buffer.from('SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0', 'latin1')),
]);

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function terminatingServer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    // The client's first message is the startup message; whatever it says, answer it at once.
    socket.once('data', () => socket.end(READY_THEN_TERMINATED));
  });
  servers.push(server);
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

describe('PostgreSQL connection cut as it is handed out', () => {
  it('every transaction fails with StoreUnavailableError (a 503) and the process lives on', async () => {
    const port = await terminatingServer();
    const db = PgDb.open(`postgres://brokkr:secret@127.0.0.1:${port}/brokkr`, 2);
    try {
      for (let i = 0; i < 3; i++) {
        await expect(db.tx((sql) => sql.run('SELECT 1'))).rejects.toBeInstanceOf(StoreUnavailableError);
      }
      // Queries outside a transaction (pool.query) were already safe; they fail the same way.
      await expect(db.run('SELECT 1')).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await db.close();
    }
  });
});
