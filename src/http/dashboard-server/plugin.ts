/** The dashboard plugin (the server side; the browser app is src/dashboard): the single-page app at `/` and the admin-only JSON it needs beyond the public API. */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ChangeFeed } from '../../change-feed.js';
import type { Store } from '../../store/store.js';
import { extractPak } from '../auth.js';
import { ApiError, badRequest, sendApiError } from '../errors.js';
import { hashPak } from '../pak.js';
import { ADMIN } from '../routes/route-kit.js';
import { type AgentsAnswer, AgentOverviewSource, STALE_AFTER_SECONDS } from './agent-overview.js';
import { CELL_STATES, type CellState, type DeliveryMatrix, type MatrixPage } from './delivery-matrix.js';
import { MatrixSource } from './matrix-source.js';
import { type Asset, DEFAULT_ASSETS_DIR, loadAssets, SECURITY_HEADERS } from './static-assets.js';

export interface DashboardOptions {
  store: Store;
  feed: ChangeFeed;
  /** Where the built browser files are (default: the package's dist/dashboard). */
  assetsDir?: string;
}

const MAX_LIMIT = 500;
const DEFAULT_LIMIT = 50;

/** A fastify plugin; register it after the API routes (`createServer({ plugins: [dashboardPlugin({store, feed})] })`). */
export function dashboardPlugin(opts: DashboardOptions): FastifyPluginAsync {
  const { store, feed, assetsDir = DEFAULT_ASSETS_DIR } = opts;
  const matrix = new MatrixSource(store, feed);
  const agents = new AgentOverviewSource(store, feed);

  return async (app) => {
    const assets = await loadAssets(assetsDir);

    const sendAsset = (request: FastifyRequest, reply: FastifyReply, asset: Asset) => {
      reply.headers(SECURITY_HEADERS).header('etag', asset.etag).type(asset.type);
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
      return reply.send(asset.body);
    };

    const hidden = { schema: { hide: true } };

    app.get('/', hidden, async (request, reply) => {
      const index = assets.get('index.html');
      if (!index) {
        return sendApiError(reply, new ApiError('not_ready', `the dashboard is not built: run "npm run build" (no index.html in ${assetsDir})`));
      }
      return sendAsset(request, reply, index);
    });

    app.get('/ui/*', hidden, async (request, reply) => {
      // Only files loaded at start are served: the map is the whitelist, so no path can escape it.
      const asset = assets.get((request.params as { '*': string })['*']);
      if (!asset) return sendApiError(reply, new ApiError('not_found', 'no such dashboard file'));
      return sendAsset(request, reply, asset);
    });

    const admin = { config: { access: ADMIN }, preHandler: requireAdmin(store) };
    const tags = ['dashboard'];

    app.get('/api/v1/dashboard/matrix', { ...admin, schema: { summary: MATRIX_SUMMARY, tags, querystring: matrixQuerySchema } }, async (request) => {
      const query = parseMatrixQuery(request.query as Record<string, unknown>);
      return pageOf(await matrix.get(), query);
    });

    app.get('/api/v1/dashboard/agents', { ...admin, schema: { summary: 'Agents with labels, annotations, heartbeat age and delivery counts', tags } }, async (): Promise<AgentsAnswer> => ({
      now: new Date().toISOString(),
      stale_after_seconds: STALE_AFTER_SECONDS,
      agents: await agents.list(),
    }));
  };
}

/**
 * The server's onRequest hook already checks `config.access` and sets `request.principal`; this
 * guard re-checks so the plugin is never open when mounted on an app without that hook.
 */
function requireAdmin(store: Store) {
  return async (request: FastifyRequest) => {
    const role = request.principal?.role;
    if (role === 'admin' || role === 'readonly') return;
    const pak = extractPak(request.headers.authorization);
    if (!pak) throw new ApiError('unauthorized', 'missing PAK: send "Authorization: Bearer <PAK>"', { 'WWW-Authenticate': 'Bearer' });
    const principal = await store.findPrincipal(hashPak(pak));
    if (!principal) throw new ApiError('unauthorized', 'unknown PAK', { 'WWW-Authenticate': 'Bearer' });
    if (principal.role !== 'admin' && principal.role !== 'readonly') throw new ApiError('forbidden', `this route needs the admin role; the PAK is a ${principal.role} PAK`);
  };
}

const MATRIX_SUMMARY =
  'Stacks × agents: per associated pair, the state of the agent for the stack’s latest object (applied, failed, pending, deleting, deleted); paged over stacks';

/** Declared for the OpenAPI document; the values are checked in parseMatrixQuery (with precise messages). */
const matrixQuerySchema = {
  type: 'object',
  properties: {
    offset: { type: 'string', description: 'first stack row (default 0)' },
    limit: { type: 'string', description: `stack rows per page, 1..${MAX_LIMIT} (default ${DEFAULT_LIMIT})` },
    q: { type: 'string', description: 'only stacks whose name contains this (case-insensitive)' },
    state: { type: 'string', description: `only rows with a cell in this state: ${CELL_STATES.join(', ')}` },
  },
} as const;

interface MatrixQuery {
  offset: number;
  limit: number;
  q: string;
  state: CellState | null;
}

function parseMatrixQuery(query: Record<string, unknown>): MatrixQuery {
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = query[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (typeof raw !== 'string' || !Number.isInteger(n) || n < min || n > max) {
      throw badRequest(`query parameter ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return n;
  };
  const q = typeof query.q === 'string' ? query.q.trim().toLowerCase() : '';
  if (q.length > 200) throw badRequest('query parameter q must be at most 200 characters');
  const state = query.state === undefined || query.state === '' ? null : query.state;
  if (state !== null && !CELL_STATES.includes(state as CellState)) {
    throw badRequest(`query parameter state must be one of ${CELL_STATES.join(', ')}, got ${JSON.stringify(state)}`);
  }
  return { offset: int('offset', 0, 0, Number.MAX_SAFE_INTEGER), limit: int('limit', DEFAULT_LIMIT, 1, MAX_LIMIT), q, state: state as CellState | null };
}

/** One page of rows (stacks), optionally filtered by stack name and by a cell state present in the row. */
function pageOf(m: DeliveryMatrix, { offset, limit, q, state }: MatrixQuery): MatrixPage {
  const matching =
    q || state
      ? m.rows.filter((r) => (!q || r.stack.name.toLowerCase().includes(q)) && (!state || r.cells.some((c) => c?.state === state)))
      : m.rows;
  return {
    version: m.version,
    computed_at: m.computed_at,
    total: matching.length,
    offset,
    limit,
    counts: m.counts,
    agents: m.agents,
    rows: matching.slice(offset, offset + limit),
  };
}
