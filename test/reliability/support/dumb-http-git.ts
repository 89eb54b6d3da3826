/**
 * A bare repository served over git's "dumb" HTTP protocol (plain static files) behind HTTP basic
 * auth, on 127.0.0.1: a remote whose URL must carry credentials, that can be stopped and started.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';

const GIT_ENV: NodeJS.ProcessEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

export interface DumbHttpRemote {
  /** The bare repository on disk (push or fast-import into it, then call publish()). */
  bare: string;
  /** URL with the credentials embedded. */
  url: string;
  user: string;
  token: string;
  /** Requests refused for missing or wrong credentials. */
  refused(): number;
  /** Refresh info/refs after the repository changed (what a dumb server needs). */
  publish(): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startDumbHttpRemote(user = 'deploy-bot', token = 'ghp_TopSecretToken0123456789abcdef'): Promise<DumbHttpRemote> {
  const bare = mkdtempSync(join(tmpdir(), 'brokkr-dumb-remote-'));
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare], { env: GIT_ENV });
  const expected = `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
  let refused = 0;
  let server: Server | null = null;
  let port = 0;

  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    if (req.headers.authorization !== expected) {
      refused += 1;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end();
      return;
    }
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^\/repo\.git/, '');
    const file = join(bare, path);
    if (!file.startsWith(bare) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    createReadStream(file).pipe(res);
  };

  const remote: DumbHttpRemote = {
    bare,
    get url() {
      return `http://${user}:${token}@127.0.0.1:${port}/repo.git`;
    },
    user,
    token,
    refused: () => refused,
    publish() {
      execFileSync('git', ['update-server-info'], { cwd: bare, env: GIT_ENV });
    },
    async start() {
      server = createServer(handler);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, '127.0.0.1', () => resolve());
      });
      const address = server.address();
      port = typeof address === 'object' && address ? address.port : port;
    },
    async stop() {
      const s = server;
      server = null;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async cleanup() {
      await remote.stop();
      rmSync(bare, { recursive: true, force: true });
    },
  };
  await remote.start();
  return remote;
}
