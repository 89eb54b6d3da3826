/** The webhook queue of an opened store: one WebhookStore per Store, on the store's own connection (same file or pool). */
import { PostgresStore } from './postgres/postgres-store.js';
import { PostgresWebhooks } from './postgres/webhooks.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import { SqliteWebhooks } from './sqlite/webhooks.js';
import type { Store } from './store.js';
import type { WebhookStore } from './webhook-store.js';

const cache = new WeakMap<Store, WebhookStore>();

/**
 * Kept beside the Store interface rather than in it: webhooks need nothing of the other methods,
 * and a store wrapped by a test (fault injection) is not an engine; pass the opened one.
 */
export function webhooksOf(store: Store): WebhookStore {
  let webhooks = cache.get(store);
  if (!webhooks) {
    if (store instanceof SqliteStore) webhooks = new SqliteWebhooks(store.db);
    else if (store instanceof PostgresStore) webhooks = new PostgresWebhooks(store.db);
    else throw new Error(`webhooks need an opened SQLite or PostgreSQL store, not ${store.constructor.name}`);
    cache.set(store, webhooks);
  }
  return webhooks;
}
