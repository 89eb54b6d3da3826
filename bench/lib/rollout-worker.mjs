// A worker process running the real daemon for the rollout-waves scenario: a small stacks
// repository (one stack in waves), `count` agents labelled for their wave, and the process's CPU
// time on request, so the parent can charge a release's server cost.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { memoryOf, serve } from './child.mjs';
import { load } from './product.mjs';

const { startDaemon, daemonLogger } = await load('daemon/daemon.js');
const { generatePak, hashPak } = await load('http/pak.js');

let daemon = null;

serve(
  {
    async start({ repo, dir, log = 'info', adminPak }) {
      mkdirSync(dir, { recursive: true });
      daemon = await startDaemon({ repo, branch: 'main', db: join(dir, 'brokkr.db'), port: 0, watch: true, logger: daemonLogger(log), env: { BROKKR_ADMIN_PAK: adminPak } });
      await daemon.firstSync;
      if (!daemon.syncer.isReady()) throw new Error('the first sync failed');
      return { url: daemon.url, pid: process.pid };
    },
    /** Agents `{name, labels}` → their ids and PAKs (created through the store). */
    async agents({ specs }) {
      const out = [];
      for (const { name, labels } of specs) {
        const pak = generatePak();
        const agent = await daemon.store.createAgent({ name, cluster_name: 'bench', pak_hash: hashPak(pak) });
        for (const l of labels) await daemon.store.addLabel('agent', agent.id, l);
        out.push({ id: agent.id, name, pak, labels });
      }
      return { agents: out };
    },
    /** CPU time of this process so far (µs), and the parked long polls. */
    cpu: () => ({ ...process.cpuUsage(), waiting: daemon.feed.waiting }),
    waiting: () => ({ waiting: daemon.feed.waiting, ...memoryOf() }),
  },
  async () => {
    await daemon?.close();
  },
);
