/**
 * `createServer`: assembles the HTTP API (not listening) from the store, the change feed and the
 * optional syncer. One file per concern lives beside this one; this file only wires them.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { createServer as createHttpServer } from 'node:http';
import pino from 'pino';
import type { ChangeFeed } from '../change-feed.js';
import type { Store } from '../store/store.js';
import { Authenticator, installAuth } from './auth.js';
import type { RepositoryControl, ServerContext, SyncControl } from './context.js';
import { installErrorHandlers } from './errors.js';
import { FastPoll } from './fast-poll.js';
import { createMetrics } from './metrics.js';
import { buildOpenApi, collectRoutes } from './openapi.js';
import { RateLimiter, type RateLimitOptions } from './rate-limit.js';
import { installRequestLog } from './request-log.js';
import { installSecurityHeaders } from './security-headers.js';
import { TargetStates } from './target-states.js';
import { applyStoreChange } from './store-changes.js';
import { formatValidationErrors } from './validation-messages.js';
import { agentRoutes } from './routes/agents.js';
import { adminAgentRoutes } from './routes/admin-agents.js';
import { agentMetadataRoutes } from './routes/agent-metadata.js';
import { targetStateRoutes } from './routes/target-state.js';
import { eventRoutes } from './routes/events.js';
import { deploymentObjectRoutes } from './routes/deployment-objects.js';
import { stackRoutes } from './routes/stacks.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { adminStatusRoutes } from './routes/admin-status.js';
import { repositoryRoutes } from './routes/repositories.js';
import { authRoutes } from './routes/auth-pak.js';
import { webhookRoutes } from './routes/webhook.js';
import { outboundWebhookRoutes } from './routes/outbound-webhooks.js';
import { UrlPolicy } from '../webhooks/url-policy.js';
import { gitManagedRoutes } from './routes/git-managed.js';
import { opsRoutes } from './routes/ops.js';
import { healthRoutes } from './routes/health.js';
import { commitRoutes } from './routes/commits.js';
import { operatorRoutes } from './routes/operators.js';
import { auditLogRoutes } from './routes/audit-logs.js';

export const API_PREFIX = '/api/v1';

/** Timeouts that keep slow or idle clients from holding the server (all milliseconds). */
export interface ServerTimeouts {
  /** The request line and headers must arrive within this. */
  headersTimeout?: number;
  /** The whole request (headers and body) must arrive within this; answering may take longer (long polls). */
  requestTimeout?: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeout?: number;
  /** A socket with no traffic at all is destroyed after this; must exceed the longest long poll (60 s). */
  socketTimeout?: number;
  /** How often Node checks the two request timeouts above. */
  checkIntervalMs?: number;
}

export interface ServerOptions {
  store: Store;
  feed: ChangeFeed;
  logger?: pino.Logger;
  syncer?: SyncControl | null;
  repositories?: RepositoryControl | null;
  /** When set, `POST /api/v1/webhooks/git` requires a valid signature or token. */
  webhookSecret?: string | null;
  /** Where outbound webhook subscriptions may point (default: public addresses only). */
  webhookPolicy?: UrlPolicy;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Per-PAK token buckets; false disables rate limiting (benchmarks). */
  rateLimit?: RateLimitOptions | false;
  /** Registered after the API routes (the dashboard). */
  plugins?: FastifyPluginAsync[];
  timeouts?: ServerTimeouts;
  /** Most simultaneous connections (default 4096). */
  maxConnections?: number;
  /** How long a resolved PAK is trusted without asking the store (default 60 s). */
  authCacheTtlMs?: number;
  /** How long a cached target-state tag is trusted without a change notification (default 5 s). */
  targetStateMaxAgeMs?: number;
  /**
   * On close, connections still open after this long are cut (ms, default 5000): in-flight
   * answers get that long to finish, and a client that connected but never sent a request
   * (which Node does not count as idle) cannot hold the shutdown.
   */
  closeGraceMs?: number;
  /** Collect process metrics (memory, event loop) into this server's registry. */
  processMetrics?: boolean;
  /** Answer agents' conditional polls that get a 304 before routing (fast-poll.ts; default on; off: every request goes through fastify). */
  fastPoll?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The services behind the routes (the daemon hands `metrics.sync` to the syncer). */
    brokkr: ServerContext;
    /** The 304 fast path in front of fastify's routing, or null when disabled (fast-poll.ts). */
    brokkrFastPoll: FastPoll | null;
  }
}

/** Build the server; call `listen` on the result. Closing it releases parked long polls first. */
export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const { store, feed, timeouts = {} } = options;
  const logger = options.logger ?? pino({ level: 'silent' });
  const requestTimeout = timeouts.requestTimeout ?? 30_000;
  const keepAliveTimeout = timeouts.keepAliveTimeout ?? 5_000;
  const connectionTimeout = timeouts.socketTimeout ?? 75_000;
  // Set once the services exist (below); until then, and when disabled, every request goes to fastify.
  let fastPoll: FastPoll | null = null;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Our own one-line-per-request log (request-log.ts) replaces fastify's two lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    requestTimeout,
    keepAliveTimeout,
    connectionTimeout,
    http: {
      headersTimeout: timeouts.headersTimeout ?? 10_000,
      connectionsCheckingInterval: timeouts.checkIntervalMs ?? 1_000,
    },
    // The server fastify would make (same options and timeouts), with the 304 fast path in front of its handler.
    serverFactory: (handler, opts) => {
      const server = createHttpServer(opts.http ?? {}, (req, res) => {
        if (fastPoll === null || !fastPoll.answer(req, res)) handler(req, res);
      });
      server.keepAliveTimeout = keepAliveTimeout;
      server.requestTimeout = requestTimeout;
      server.setTimeout(connectionTimeout);
      return server;
    },
    ajv: {
      // Coercion off: a JSON number where a string is expected is an error, not a silent "123".
      // Query integers are therefore declared as digit strings (schemas.ts).
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false, verbose: true },
    },
    schemaErrorFormatter: (errors, dataVar) => formatValidationErrors(errors as never, dataVar),
  });
  app.server.maxConnections = options.maxConnections ?? 4096;

  const ctx: ServerContext = {
    store,
    feed,
    auth: new Authenticator(store, { ttlMs: options.authCacheTtlMs }),
    targets: new TargetStates(store, feed, { maxAgeMs: options.targetStateMaxAgeMs }),
    metrics: createMetrics({ store, feed, processMetrics: options.processMetrics }),
    limiter: options.rateLimit === false ? null : new RateLimiter(options.rateLimit ?? {}),
    syncer: options.syncer ?? null,
    repositories: options.repositories ?? null,
    webhookSecret: options.webhookSecret || null,
    closing: false,
  };
  app.decorate('brokkr', ctx);
  if (options.fastPoll !== false) {
    fastPoll = new FastPoll({ auth: ctx.auth, limiter: ctx.limiter, targets: ctx.targets, metrics: ctx.metrics, logger, closing: () => ctx.closing });
  }
  app.decorate('brokkrFastPoll', fastPoll);
  const unsubscribe = store.onChange((change) => applyStoreChange(change, ctx));

  const routes = collectRoutes(app);
  installErrorHandlers(app);
  installSecurityHeaders(app);
  installRequestLog(app, ctx.metrics);
  installAuth(app, ctx.auth, ctx.limiter);
  installJsonParser(app);

  // Shutdown: parked long polls answer now instead of holding close() for up to a minute, and
  // whatever connection is left after the grace period is cut.
  let grace: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    ctx.closing = true;
    feed.releaseAll();
    grace = setTimeout(() => app.server.closeAllConnections(), options.closeGraceMs ?? 5_000).unref();
  });
  app.addHook('onClose', async () => {
    clearTimeout(grace);
    unsubscribe();
  });

  let openapi: Record<string, unknown> | null = null;
  await app.register(
    async (api) => {
      agentRoutes(api, ctx);
      adminAgentRoutes(api, ctx);
      agentMetadataRoutes(api, ctx);
      targetStateRoutes(api, ctx);
      eventRoutes(api, ctx);
      deploymentObjectRoutes(api, ctx);
      stackRoutes(api, ctx);
      rolloutRoutes(api, ctx);
      adminStatusRoutes(api, ctx);
      repositoryRoutes(api, ctx);
      authRoutes(api, ctx);
      healthRoutes(api, ctx);
      commitRoutes(api, ctx);
      operatorRoutes(api, ctx);
      auditLogRoutes(api, ctx);
      outboundWebhookRoutes(api, store, options.webhookPolicy ?? new UrlPolicy());
      await api.register(async (hooks) => webhookRoutes(hooks, ctx));
      await api.register(async (scope) => gitManagedRoutes(scope, ctx));
      api.get('/openapi.json', { schema: { hide: true } }, async () => (openapi ??= buildOpenApi(routes)));
    },
    { prefix: API_PREFIX },
  );
  opsRoutes(app, ctx);
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  return app;
}

/**
 * JSON bodies only (anything else is 415): fastify's own parser (prototype-poisoning protection included), except that an
 * empty body counts as no body, since some clients send `Content-Type: application/json` on a
 * bodiless POST such as a heartbeat.
 */
function installJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  // JSON only: a text/plain body would otherwise reach validation and fail as a confusing 400.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    parse(request, body as string, done);
  });
}
