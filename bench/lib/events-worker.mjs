// A load generator in its own process: agents report DEPLOY events at a steady rate (the webhooks scenario).
import http from 'node:http';
import { serve } from './child.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

serve({
  /** POST `rate` events a second for `seconds`, round-robin over `agents` ({id, pak, objectId}); every 10th a FAILURE. */
  async events({ url, agents, rate, seconds }) {
    const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const latencies = [];
    let sent = 0;
    let errors = 0;
    let firstError = null;
    const inFlight = new Set();
    const post = (agent, status) => {
      const body = JSON.stringify({ deployment_object_id: agent.objectId, event_type: 'DEPLOY', status, message: status === 'SUCCESS' ? 'applied' : 'ImagePullBackOff' });
      const t0 = performance.now();
      const p = new Promise((resolve) => {
        const req = http.request(new URL(`/api/v1/agents/${agent.id}/events`, url), {
          method: 'POST',
          agent: httpAgent,
          headers: { authorization: `Bearer ${agent.pak}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 201) latencies.push(performance.now() - t0);
            else {
              errors++;
              firstError ??= `HTTP ${res.statusCode}`;
            }
            resolve();
          });
        });
        req.on('error', (err) => {
          errors++;
          firstError ??= err.message;
          resolve();
        });
        req.end(body);
      });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
    const start = performance.now();
    const total = Math.round(rate * seconds);
    while (sent < total) {
      // Catch up to the schedule: events due by now are sent now (10 ms ticks).
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due) {
        post(agents[sent % agents.length], sent % 10 === 9 ? 'FAILURE' : 'SUCCESS');
        sent++;
      }
      await sleep(10);
    }
    await Promise.all([...inFlight]);
    httpAgent.destroy();
    return { sent, errors, firstError, latencies, seconds: (performance.now() - start) / 1000 };
  },
});
