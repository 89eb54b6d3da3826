// A worker process running the real daemon over many repositories (startDaemon with a
// `repositories` list, as `serve --config` gives it), for the many-repositories scenario.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { memoryOf, serve } from './child.mjs';
import { load } from './product.mjs';

const { startDaemon, daemonLogger } = await load('daemon/daemon.js');
const { generatePak, hashPak } = await load('http/pak.js');

let daemon = null;

serve(
  {
    /** `repositories`: [{name, url}] (local paths, watched); resolves after every first sync. */
    async start({ repositories, dir, adminPak }) {
      mkdirSync(dir, { recursive: true });
      const t0 = performance.now();
      daemon = await startDaemon({
        repositories: repositories.map((r) => ({ branch: 'main', root: '', interval_seconds: null, webhook_secret: null, auth: null, origin: 'config', ...r })),
        db: join(dir, 'brokkr.db'),
        port: 0,
        watch: true,
        logger: daemonLogger('warn'),
        env: { BROKKR_ADMIN_PAK: adminPak },
      });
      await daemon.firstSync;
      if (!daemon.repositories.isReady()) throw new Error('a first sync failed');
      const stacks = (await daemon.store.listStacks()).length;
      return { url: daemon.url, firstSyncMs: performance.now() - t0, stacks, pid: process.pid };
    },
    /** One agent with `label`; returns its id and PAK. */
    async agent({ name, label }) {
      const pak = generatePak();
      const agent = await daemon.store.createAgent({ name, cluster_name: 'bench', pak_hash: hashPak(pak) });
      await daemon.store.addLabel('agent', agent.id, label);
      return { id: agent.id, name, pak };
    },
    memory: () => memoryOf(),
  },
  async () => {
    await daemon?.close();
  },
);
