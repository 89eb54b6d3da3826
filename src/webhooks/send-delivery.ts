/**
 * One HTTP attempt of one delivery: a JSON POST (or Slack `{text}`) with the event, delivery id
 * and signature headers, bounded by the subscription's timeout from connect to the response's
 * status line. Redirects are never followed. At most EXCERPT_BYTES of the answer are kept.
 * It never throws: every way an attempt can end is an AttemptResult.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { VERSION } from '../version.js';
import { SIGNATURE_HEADER, signBody } from './signature.js';
import { slackBody } from './slack-text.js';
import { hostOf, parseWebhookUrl, WebhookUrlError, type UrlPolicy } from './url-policy.js';

export const EXCERPT_BYTES = 256;

/** What an attempt needs (a claimed delivery, or a test message). */
export interface Attempt {
  delivery_id: string;
  event_type: string;
  event_id: string;
  payload: string;
  url: string;
  secret: string | null;
  format: 'json' | 'slack';
  timeout_seconds: number;
  attempt: number;
}

export type AttemptResult =
  | { ok: true; status_code: number; response_excerpt: string | null }
  /** `final`: retrying cannot help (refused URL, a 4xx other than 408/425/429). */
  | { ok: false; error: string; status_code: number | null; response_excerpt: string | null; final: boolean };

/** The body actually sent (and signed). */
export function bodyOf(a: Pick<Attempt, 'format' | 'payload'>): string {
  return a.format === 'slack' ? slackBody(a.payload) : a.payload;
}

/**
 * Keep-alive connection pools for the delivery worker: a receiver gets its connections reused
 * (one TCP/TLS handshake per connection, not per delivery; pools are per host and port). The URL
 * policy still checks every NEW connection's addresses (the `lookup` below); an idle connection is
 * closed after 4 s, before a Node receiver's default 5 s keep-alive closes it under us. Idle
 * connections are kept up to the most deliveries in flight (not Node's usual few dozen): with a
 * 200 ms receiver ~200 are busy at 1,000/s, and a smaller pool closed and reopened ~1 in 9 of
 * them (BENCHMARKS F12); the 4 s idle timeout and LIFO reuse still close the surplus.
 */
export interface DeliveryAgents {
  http: http.Agent;
  https: https.Agent;
  destroy(): void;
}

export function deliveryAgents(): DeliveryAgents {
  const options = { keepAlive: true, timeout: 4_000, scheduling: 'lifo' as const, maxFreeSockets: 1024 };
  const pools = { http: new http.Agent(options), https: new https.Agent(options) };
  return { ...pools, destroy: () => (pools.http.destroy(), pools.https.destroy()) };
}

/** Without `agents`, a fresh connection for this one attempt (the test message). */
export function sendAttempt(a: Attempt, policy: UrlPolicy, signal?: AbortSignal, agents?: DeliveryAgents): Promise<AttemptResult> {
  let url: URL;
  try {
    url = parseWebhookUrl(a.url);
    const host = hostOf(url);
    if (isIP(host) && !policy.hostAllowed(host)) policy.checkAddress(host, host);
  } catch (err) {
    return Promise.resolve({ ok: false, error: (err as Error).message, status_code: null, response_excerpt: null, final: err instanceof WebhookUrlError });
  }
  const body = Buffer.from(bodyOf(a));
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': body.length,
    'User-Agent': `brokkr-sync/${VERSION}`,
    'X-Brokkr-Event': a.event_type,
    'X-Brokkr-Event-Type': a.event_type,
    'X-Brokkr-Event-Id': a.event_id,
    'X-Brokkr-Delivery-Id': a.delivery_id,
    'X-Brokkr-Attempt': a.attempt,
  };
  if (a.secret) headers[SIGNATURE_HEADER] = signBody(a.secret, body);
  const timeoutMs = Math.max(1, a.timeout_seconds) * 1000;

  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const finish = (r: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const fail = (error: string, final = false, status_code: number | null = null, response_excerpt: string | null = null) =>
      finish({ ok: false, error, status_code, response_excerpt, final });
    const request = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'POST',
      headers,
      lookup: policy.lookupFor(hostOf(url)),
      agent: agents ? (url.protocol === 'https:' ? agents.https : agents.http) : false,
    });
    const timer = setTimeout(() => {
      fail(`no answer within ${a.timeout_seconds} s (the subscription's timeout_seconds)`);
      request.destroy();
    }, timeoutMs);
    const onAbort = () => {
      fail('the daemon shut down during the attempt');
      request.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    // Claimed as the daemon began to stop (stop() waits for that claim): given back at once, not sent.
    if (signal?.aborted) onAbort();
    request.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof WebhookUrlError) return fail(err.message, true);
      const code = err.code ? `${err.code}: ` : '';
      fail(`cannot reach ${url.host}: ${code}${err.message}`);
    });
    request.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        const excerpt = size > 0 ? Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8') : null;
        if (status >= 200 && status < 300) return finish({ ok: true, status_code: status, response_excerpt: excerpt });
        if (status >= 300 && status < 400) {
          const where = res.headers.location ? ` to ${res.headers.location}` : '';
          return fail(`HTTP ${status} redirect${where} not followed: webhooks are never redirected; subscribe the final URL`, false, status, excerpt);
        }
        const final = status >= 400 && status < 500 && status !== 408 && status !== 425 && status !== 429;
        fail(`HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, final, status, excerpt);
      };
      res.on('data', (chunk: Buffer) => {
        if (size < EXCERPT_BYTES) chunks.push(chunk);
        size += chunk.length;
        // Enough read: the answer's status decided the outcome; the rest of a large body is not wanted.
        if (size >= EXCERPT_BYTES) {
          done();
          res.destroy();
        }
      });
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
    });
    request.end(body);
  });
}
