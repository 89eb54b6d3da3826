/** Prometheus series of outbound webhooks, on the server's registry: the queue by status (read at scrape time) and attempts by outcome. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Store } from '../store/store.js';
import type { AttemptCounts } from './delivery-process.js';
import { webhooksOf } from '../store/webhooks-of.js';

/** Register the series; returns what the delivery process's attempt counts are added with. */
export function registerWebhookMetrics(registry: Registry, store: Store): (counts: AttemptCounts) => void {
  new Gauge({
    name: 'brokkr_webhook_deliveries',
    help: 'Outbound webhook deliveries in the database by status (pending, acquired, failed = waiting to retry, success, dead)',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const counts = await webhooksOf(store).countDeliveries();
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  const attempts = new Counter({
    name: 'brokkr_webhook_attempts_total',
    help: 'Outbound webhook delivery attempts by this replica, by outcome (success, failed = will retry, dead)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  return (counts) => {
    for (const [outcome, n] of Object.entries(counts)) if (n) attempts.inc({ outcome }, n);
  };
}
