// A webhook receiver in its own process (the webhooks scenario): it stands for a system on another
// machine, so its work must not delay the bench's own clocks (the sampler and probes measuring the
// daemon). Answers every POST after `delayMs`; records when each event arrived and when it was created.
import http from 'node:http';
import { setPriority } from 'node:os';
import { serve } from './child.mjs';

let server = null;
const arrivals = [];

serve(
  {
    /** `nice`: this process's scheduling priority (a variant that keeps the receiver's CPU out of the daemon's way, as another machine would). */
    async start({ delayMs, nice = 0 }) {
      if (nice) setPriority(nice);
      server = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          const at = Date.now();
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString());
            arrivals.push({ at, type: body.event_type, createdAt: Date.parse(body.data?.created_at ?? body.timestamp) });
          } catch {
            /* counted as nothing */
          }
          setTimeout(() => res.end('ok'), delayMs);
        });
      });
      server.keepAliveTimeout = 60_000;
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      return { url: `http://127.0.0.1:${server.address().port}/hook` };
    },
    /** The events that arrived by `until` (ms since the epoch), and this process's CPU seconds so far. */
    arrivals({ until }) {
      const cpu = process.cpuUsage();
      return { arrivals: arrivals.filter((a) => a.at <= until), cpuS: (cpu.user + cpu.system) / 1e6 };
    },
  },
  () =>
    new Promise((r) => {
      if (!server) return r();
      server.closeAllConnections();
      server.close(r);
    }),
);
