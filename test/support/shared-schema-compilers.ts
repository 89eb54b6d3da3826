/**
 * vitest setupFiles entry: every fastify server a test file starts in its own process shares one
 * cache of compiled route validators (ajv) and response serializers (fast-json-stringify), keyed
 * by the schema's content and the compiler options. Without it each `createServer` recompiles the
 * same ~150 route schemas: about 200 ms of CPU per server, paid by hundreds of tests that start one.
 *
 * The compilers are fastify's own defaults (@fastify/ajv-compiler, @fastify/fast-json-stringify-compiler,
 * resolved from fastify itself), called with the options fastify passes; only a repeat of the same
 * schema with the same options is answered from the cache. No brokkr-sync route has a headers schema,
 * the one place fastify treats a custom compiler differently (it lower-cases header names itself
 * for its default one). Child processes (the built CLI) are not affected.
 */
import { createRequire } from 'node:module';
import { vi } from 'vitest';

vi.mock('fastify', async (importOriginal) => {
  const original = await importOriginal<typeof import('fastify')>();
  const fromFastify = createRequire(import.meta.resolve('fastify'));
  const AjvCompiler = fromFastify('@fastify/ajv-compiler') as () => (externals: unknown, options: unknown) => (route: { schema: unknown }) => unknown;
  const SerializerSelector = fromFastify('@fastify/fast-json-stringify-compiler') as () => (externals: unknown, options: unknown) => (route: { schema: unknown }) => unknown;

  /** One default factory per kind, each answering a repeated (options, schema) from `cache`. */
  function cached(factory: (externals: unknown, options: unknown) => (route: { schema: unknown }) => unknown) {
    const cache = new Map<string, unknown>();
    return (externals: unknown, options: unknown) => {
      const compile = factory(externals, options);
      const prefix = JSON.stringify([externals, options ?? null]);
      return (route: { schema: unknown }) => {
        const key = `${prefix}${JSON.stringify(route.schema)}`;
        let fn = cache.get(key);
        if (fn === undefined) {
          fn = compile(route);
          cache.set(key, fn);
        }
        return fn;
      };
    };
  }
  const compilersFactory = { buildValidator: cached(AjvCompiler()), buildSerializer: cached(SerializerSelector()) };

  const build = original.default as unknown as (options: object) => unknown;
  const fastify = (options: { schemaController?: { compilersFactory?: object } } = {}) => {
    if (options.schemaController?.compilersFactory) return build(options);
    return build({ ...options, schemaController: { ...options.schemaController, compilersFactory } });
  };
  Object.assign(fastify, original.default, { default: fastify, fastify });
  return { ...original, default: fastify, fastify };
});
