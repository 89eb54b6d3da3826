/**
 * Generators as repositories (section 9 of the spec): list and read them with their repository
 * and sync status, add a repository at run time, remove one (optionally pruning its stacks), and
 * sync one now. A generator's record is brokkr's; the repository's fields ride along.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { RepositorySpecError, parseRepositorySpec } from '../../daemon/repository-spec.js';
import type { Generator } from '../../store/records.js';
import type { RepositoryControl, ServerContext } from '../context.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { arrayOf, boolParam, generatorSchema, idParams, nullableStr } from '../schemas.js';
import { ADMIN, isTrue, noContent, responses } from './route-kit.js';
import { conditionOf, conditionSchemaProperties } from '../../sync/failure-class.js';
import { auditContext } from '../audit-context.js';
import { auditEntries } from '../../store/audit-entries.js';

const tags = ['repositories'];
const nullableNumber = { type: ['number', 'null'] } as const;

/** brokkr's generator record plus the repository it stands for and how its syncing goes. */
const generatorDetailSchema = {
  ...generatorSchema,
  properties: {
    ...generatorSchema.properties,
    repository: {
      type: ['object', 'null'],
      description: 'The repository (null: no longer synced by this daemon)',
      properties: {
        name: { type: 'string' },
        url: { type: 'string', description: 'Without credentials' },
        branch: nullableStr,
        root: { type: 'string' },
        interval_seconds: nullableNumber,
        origin: { type: 'string', enum: ['config', 'api', 'flag'] },
        auth: { type: 'string', enum: ['none', 'token', 'ssh-key'] },
        webhook_secret: { type: 'boolean', description: 'Whether one is set (never the secret)' },
        syncing_here: { type: 'boolean', description: 'This replica holds the sync lease' },
        dropped_from_config: { type: 'boolean' },
      },
    },
    repo: { ...nullableStr, description: 'The repository as last synced (URL without credentials, or path)' },
    branch: nullableStr,
    root: nullableStr,
    cursor_commit: { ...nullableStr, description: 'Last synced commit' },
    cursor_committed_at: nullableStr,
    last_sync_at: nullableStr,
    last_error: nullableStr,
    ...conditionSchemaProperties,
    stacks: { type: 'integer', description: 'Live stacks' },
    invalid_stacks: { type: 'integer', description: 'Stacks with recorded errors' },
  },
};

const authBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    username_env: { type: 'string', minLength: 1, maxLength: 255 },
    password_env: { type: 'string', minLength: 1, maxLength: 255 },
    ssh_key_file: { type: 'string', minLength: 1, maxLength: 4096 },
  },
};

const addBody = {
  type: 'object',
  required: ['name', 'url'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 64 },
    url: { type: 'string', minLength: 1, maxLength: 4096 },
    branch: { type: 'string', minLength: 1, maxLength: 255 },
    root: { type: 'string', minLength: 1, maxLength: 4096 },
    interval: { type: 'number', exclusiveMinimum: 0, maximum: 86_400 },
    webhook_secret: { type: 'string', minLength: 1, maxLength: 1024 },
    auth: authBody,
  },
};

export function repositoryRoutes(parent: FastifyInstance, ctx: ServerContext): void {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  const { store } = ctx;

  /** Every live generator with its repository, sync state and stack counts (four reads in all, whatever their number). */
  async function details(): Promise<Record<string, unknown>[]> {
    const [generators, states, stacks, errors] = await Promise.all([store.listGenerators(), store.listSyncStates(), store.listStacks(), store.listSyncErrors()]);
    const repos = ctx.repositories?.list() ?? [];
    return generators.map((g) => detail(g, { states, stacks, errors, repos }));
  }

  function detail(g: Generator, all: { states: Awaited<ReturnType<typeof store.listSyncStates>>; stacks: { generator_id: string }[]; errors: { generator_id: string; stack_path: string }[]; repos: ReturnType<NonNullable<typeof ctx.repositories>['list']> }) {
    const state = all.states.find((s) => s.generator_id === g.id);
    const { generator_id: _, ...sync } = state ?? { generator_id: g.id, repo: null, branch: null, root: null, cursor_commit: null, cursor_committed_at: null, last_sync_at: null, last_error: null };
    const repository = all.repos.find((r) => r.generator_id === g.id) ?? null;
    const invalid = new Set(all.errors.filter((e) => e.generator_id === g.id).map((e) => e.stack_path)).size;
    // brokkr v1 requires `is_system`; no generator here is brokkr's built-in system one.
    return {
      ...g,
      is_system: false,
      repository: repository && { ...repository, generator_id: undefined },
      ...sync,
      ...conditionOf(state),
      stacks: all.stacks.filter((s) => s.generator_id === g.id).length,
      invalid_stacks: invalid,
    };
  }

  /**
   * The daemon's repositories; a server without a daemon behind it (the API alone) still keeps
   * the declarations in the store, where the next daemon started on the database picks them up.
   */
  function control(): Pick<RepositoryControl, 'add' | 'remove' | 'syncNow'> {
    if (ctx.repositories) return ctx.repositories;
    return {
      add: (spec, audit) => store.saveRepository(spec, audit),
      remove: (id, prune, audit) => store.removeRepository(id, { prune }, audit),
      syncNow: async (id) => {
        throw notFound(`no repository with generator ${id ?? '(any)'} is synced by this server`);
      },
    };
  }

  app.get(
    '/generators',
    { schema: { summary: 'Generators: one per repository, with its repository, sync status and stack counts', tags, response: responses({ 200: arrayOf(generatorDetailSchema) }, [403]) }, config: { access: ADMIN } },
    async () => details(),
  );

  app.get(
    '/generators/:id',
    {
      schema: { summary: 'One generator (brokkr’s record) with its repository, sync status and stack counts', tags, params: idParams, response: responses({ 200: generatorDetailSchema }, [400, 403, 404]) },
      config: { access: ADMIN },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      const found = (await details()).find((g) => g.id === id);
      if (!found) throw notFound(`no generator ${id}`);
      return found;
    },
  );

  app.post(
    '/generators',
    {
      schema: {
        summary: 'Add a repository to sync (kept in the database across restarts)',
        description: 'Body: the config file’s fields in snake_case. Credentials are named, never sent: auth.username_env/password_env name environment variables of the daemon, or auth.ssh_key_file a key file on its host.',
        tags,
        body: addBody,
        response: responses({ 201: generatorDetailSchema }, [400, 403, 409, 413, 415]),
      },
      config: { access: ADMIN },
    },
    async (request, reply) => {
      let saved;
      try {
        const spec = parseRepositorySpec(request.body, 'body', 'api');
        // One the config file no longer lists is free to take over here (it becomes a run-time repository).
        const declared = ctx.repositories?.list().find((r) => r.name === spec.name && r.origin !== 'api' && !r.dropped_from_config);
        if (declared) {
          throw new ApiError('conflict', `repository ${spec.name} comes from ${declared.origin === 'flag' ? '--repo' : 'the config file'}; change it there`);
        }
        saved = await control().add(spec, auditContext(request));
      } catch (err) {
        if (err instanceof RepositorySpecError) throw badRequest(err.message);
        throw err;
      }
      const created = (await details()).find((g) => g.id === saved.generator_id);
      return reply.code(201).send(created);
    },
  );

  app.delete(
    '/generators/:id',
    {
      schema: {
        summary: 'Stop syncing a repository; its stacks stay unless prune=true (then every agent receives their deletion markers)',
        tags,
        params: idParams,
        querystring: Type.Object({ prune: Type.Optional(boolParam) }, { additionalProperties: false }),
        response: responses({ 204: noContent }, [400, 403, 404, 409]),
      },
      config: { access: ADMIN },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      const prune = isTrue(request.query.prune);
      await control().remove(id, prune, auditContext(request));
      return reply.code(204).send();
    },
  );

  app.post(
    '/generators/:id/sync',
    {
      schema: {
        summary: 'Sync this repository now and answer what the pass did',
        tags,
        params: idParams,
        response: responses({ 200: { type: 'object', additionalProperties: true } }, [400, 403, 404]),
      },
      config: { access: ADMIN },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      const [report] = await control().syncNow(id);
      const name = (await store.listGenerators()).find((g) => g.id === id)?.name ?? null;
      await store.recordAudit(auditContext(request), auditEntries.repositorySyncRequested(id, name, report?.cursor ?? null));
      return report;
    },
  );
}
