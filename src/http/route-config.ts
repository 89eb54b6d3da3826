/**
 * A request's route config (fastify's `config` of the matched route, with its `url` pattern and
 * `method`), read once per request. `request.routeOptions` is a getter that builds a 12-field object
 * on every read, and the auth hook and the request log both need it on every request (bench F13).
 */
import type { FastifyContextConfig, FastifyRequest } from 'fastify';

type RouteConfig = FastifyContextConfig & { url?: string; method?: string };

const kRouteConfig = Symbol('brokkr.routeConfig');

type WithConfig = FastifyRequest & { [kRouteConfig]?: RouteConfig | null };

/** The matched route's config, or null when fastify has none (the 404 handler's context may have none). */
export function routeConfig(request: FastifyRequest): RouteConfig | null {
  const r = request as WithConfig;
  let config = r[kRouteConfig];
  if (config === undefined) {
    config = (request.routeOptions.config as RouteConfig | undefined) ?? null;
    r[kRouteConfig] = config;
  }
  return config;
}
