/** Changes between replicas: pg_notify payloads written inside the writing transaction, and a self-healing LISTEN connection. */
import pg from 'pg';
import type { StoreChange } from '../store.js';

export const CHANGE_CHANNEL = 'brokkr_changes';

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; stay clear of the limit. */
const MAX_PAYLOAD_BYTES = 7900;

const RETRY_MIN_MS = 100;
/*
 * At most 0.5 s between attempts (two cheap connection attempts a second while the database is
 * down): until the LISTEN connection is back, other replicas' changes (a rotated PAK, a commit)
 * go unnoticed here, and only the reconnect's blanket invalidation catches up. With 5 s, a PAK
 * rotated elsewhere right after a database restart kept working on this replica for ~3 s
 * (test/replicas/postgres-restart.test.ts); SPEC §8 promises 1 s.
 */
const RETRY_MAX_MS = 500;

/**
 * The NOTIFY payload: `{origin, change}`, origin telling a store its own echo apart. An 'objects'
 * change naming very many stacks is widened to {kind:'stacks'} (every agent re-checks): less precise,
 * never lost.
 */
export function changePayload(origin: string, change: StoreChange): string {
  const payload = JSON.stringify({ origin, change });
  return Buffer.byteLength(payload) < MAX_PAYLOAD_BYTES ? payload : JSON.stringify({ origin, change: { kind: 'stacks' } });
}

const KINDS = new Set(['objects', 'stacks', 'agent', 'agents', 'auth', 'sync', 'repositories', 'sync-requested']);

/** A payload from another replica, or null when it is ours or not one we understand (an older or newer build). */
export function parsePayload(origin: string, payload: string | undefined): StoreChange | null {
  try {
    const parsed = JSON.parse(payload ?? '') as { origin?: unknown; change?: { kind?: unknown } };
    if (parsed.origin === origin || typeof parsed.change?.kind !== 'string' || !KINDS.has(parsed.change.kind)) return null;
    return parsed.change as StoreChange;
  } catch {
    return null;
  }
}

/**
 * One dedicated connection running LISTEN. When it drops (PostgreSQL restarted, network cut) it
 * reconnects by itself, backing off from 100 ms to 0.5 s; after a reconnect it reports
 * {kind:'stacks'} and {kind:'auth', agentId:null} once, because notifications sent while it was
 * away are lost: listeners then re-read everything that could have changed.
 */
export class ChangeSubscription {
  #client: pg.Client | null = null;
  #closed = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly origin: string,
    private readonly deliver: (change: StoreChange) => void,
  ) {}

  /** Connect once; a failure is not thrown but retried in the background (the pool reports unavailability). */
  async start(): Promise<void> {
    await this.#connect(false);
  }

  /** Whether the LISTEN connection is up right now (for status views and tests). */
  get connected(): boolean {
    return this.#client !== null;
  }

  async #connect(reconnecting: boolean): Promise<void> {
    this.#timer = undefined;
    if (this.#closed) return;
    const client = new pg.Client({ ...this.config, application_name: 'brokkr-sync-listen', keepAlive: true });
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    client.on('notification', (msg) => {
      const change = parsePayload(this.origin, msg.payload);
      if (change) this.deliver(change);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch {
      client.end().catch(() => {});
      this.#retry();
      return;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#attempt = 0;
    if (reconnecting) {
      this.deliver({ kind: 'stacks' });
      this.deliver({ kind: 'auth', agentId: null });
    }
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return; // a connection that never came up is retried by #connect
    this.#client = null;
    client.end().catch(() => {});
    this.#retry();
  }

  #retry(): void {
    if (this.#closed || this.#timer) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.#attempt++);
    this.#timer = setTimeout(() => void this.#connect(true), delay);
    this.#timer.unref(); // a retry alone must not keep the process alive
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
  }
}
