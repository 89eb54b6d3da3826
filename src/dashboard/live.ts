/**
 * Live updates: a long poll on `GET /changes?since=N&wait=25`. The server answers as soon as its
 * change feed moves past N, so a commit or an agent event reaches the page in one round trip.
 * Errors back off (1 s doubling to 15 s); a 401 stops the loop (the app shows the login form).
 */
import { api, ApiFailure } from './api.js';

export type LiveState = 'live' | 'reconnecting';

export interface LiveOptions {
  onChange: (version: number) => void;
  onState: (state: LiveState) => void;
}

/** Start polling; returns a stop function. */
export function startLive({ onChange, onState }: LiveOptions): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  void (async () => {
    let since = -1;
    let backoff = 1000;
    while (!signal.aborted) {
      try {
        // The first call (wait=0) only learns the current version.
        const wait = since < 0 ? 0 : 25;
        const { version } = await api<{ version: number }>(`/changes?since=${Math.max(since, 0)}&wait=${wait}`, { signal });
        onState('live');
        backoff = 1000;
        // The first answer also refreshes: the view's first render and this call race, and a change
        // made between them (a commit right after the page showed) would otherwise wait for the
        // periodic refresh.
        if (since < 0 || version !== since) onChange(version);
        since = version;
      } catch (err) {
        if (signal.aborted || (err instanceof ApiFailure && err.status === 401)) return;
        onState('reconnecting');
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(backoff * 2, 15_000);
      }
    }
  })();
  return () => controller.abort();
}
