// Parked long polls: for each agent, fetch its ETag, then hold `GET target-state?wait=S` with
// If-None-Match open forever (re-issued when it answers), one keep-alive socket per agent — the
// "1,000 other agents also waiting" of the commit → agent and memory scenarios.
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import { serve } from './child.mjs';
import { getState } from './fleet.mjs';

let stopping = false;
const controller = new AbortController();
setMaxListeners(0, controller.signal);
const counts = { changed: 0, notModified: 0, errors: 0, inFlight: 0 };
const loops = [];

async function loop(url, agent, wait, httpAgent) {
  let etag = (await getState(url, agent, { httpAgent })).etag;
  while (!stopping) {
    counts.inFlight++;
    try {
      const r = await getState(url, agent, { etag, wait, httpAgent, signal: controller.signal });
      if (r.status === 200) {
        counts.changed++;
        etag = r.etag;
      } else if (r.status === 304) counts.notModified++;
      else {
        counts.errors++;
        await new Promise((res) => setTimeout(res, 1000));
      }
    } catch {
      if (!stopping) counts.errors++;
      if (!stopping) await new Promise((res) => setTimeout(res, 1000));
    } finally {
      counts.inFlight--;
    }
  }
}

serve(
  {
    /** Start one loop per agent; resolves once every loop has sent its parked request. */
    async park({ url, agents, wait = 30 }) {
      const httpAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
      for (const agent of agents) loops.push(loop(url, agent, wait, httpAgent));
      const deadline = Date.now() + 60_000;
      while (counts.inFlight < agents.length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      return { ...counts };
    },
    stats: () => ({ ...counts }),
  },
  async () => {
    stopping = true;
    controller.abort();
    await Promise.allSettled(loops);
  },
);
