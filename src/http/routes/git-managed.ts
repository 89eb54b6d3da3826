/**
 * brokkr v1's routes that write stacks and deployment objects by API. Here Git is the generator,
 * so each answers 409 `git_managed` naming the repository, branch and path to commit to instead.
 */
import { posix } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { SyncState } from '../../store/records.js';
import type { Store, StackDetail } from '../../store/store.js';
import type { ServerContext } from '../context.js';
import { gitManaged, notFound } from '../errors.js';
import { idParams, shortText } from '../schemas.js';
import { ADMIN, responses } from './route-kit.js';

const tags = ['brokkr v1 (managed in Git)'];

/** `repo (branch b)`, or the generator's name when its repository is no longer configured. */
const repositoryOf = (state: SyncState | null, generatorName: string | undefined) =>
  state ? `${state.repo} (branch ${state.branch})` : `the repository of generator ${generatorName ?? 'unknown'}`;

/** What a brokkr client meant to change, and where that change is made in Git instead. */
type StackChange = 'edit' | 'delete' | 'content';

function stackMessage(stack: StackDetail, state: SyncState | null, generatorName: string | undefined, change: StackChange): string {
  const dir = posix.join(state?.root || '.', stack.path ?? '.');
  const where = repositoryOf(state, generatorName);
  const how = {
    edit: `edit ${posix.join(dir, 'stack.yaml')} (description, labels, annotations) and commit it to ${where}`,
    delete: `remove the directory ${dir}/ (or its stack.yaml) and commit that to ${where}`,
    content: `commit its resource files under ${dir}/ to ${where}; each commit that changes them becomes a new deployment object`,
  }[change];
  return `stack ${stack.name} is managed in Git: ${how}`;
}

/** The message for a stack, or 404 when there is no such stack. */
async function messageFor(store: Store, id: string, change: StackChange): Promise<string> {
  const stack = await store.getStack(id.toLowerCase());
  if (!stack) throw notFound(`no stack ${id}`);
  const [state, generators] = await Promise.all([store.getSyncState(stack.generator_id), store.listGenerators()]);
  return stackMessage(stack, state, generators.find((g) => g.id === stack.generator_id)?.name, change);
}

/** Register in its own plugin scope: the catch-all body parser must not reach other routes. */
export function gitManagedRoutes(app: FastifyInstance, { store }: ServerContext): void {
  // brokkr also takes raw YAML for deployment objects (and a bare JSON string for a stack
  // label); whatever the body, the answer is the same 409, so these routes never parse it.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined));

  const route = (summary: string, params: unknown = idParams) => ({
    schema: { summary, tags, ...(params ? { params } : {}), response: responses({}, [400, 403, 404, 409]) },
    config: { access: ADMIN },
  });
  const withParam = (name: string) => ({ type: 'object', required: ['id', name], properties: { ...idParams.properties, [name]: shortText } });
  const answer = (change: StackChange) => async (request: { params: unknown }) => {
    throw gitManaged(await messageFor(store, (request.params as { id: string }).id, change));
  };

  app.post('/stacks', route('brokkr v1 create stack: add a directory with a stack.yaml to a repository instead', null), async () => {
    const states = await store.listSyncStates();
    const where = states.length ? states.map((s) => repositoryOf(s, undefined)).join(' or ') : 'a repository brokkr-sync syncs (none is configured yet)';
    throw gitManaged(`stacks are managed in Git: commit a directory holding a stack.yaml and its resource files to ${where}`);
  });
  app.put('/stacks/:id', route('brokkr v1 update stack: edit its stack.yaml instead'), answer('edit'));
  app.delete('/stacks/:id', route('brokkr v1 delete stack: remove its directory instead'), answer('delete'));
  app.post('/stacks/:id/labels', route('brokkr v1 add stack label: edit its stack.yaml instead'), answer('edit'));
  app.delete('/stacks/:id/labels/:label', route('brokkr v1 remove stack label: edit its stack.yaml instead', withParam('label')), answer('edit'));
  app.post('/stacks/:id/annotations', route('brokkr v1 add stack annotation: edit its stack.yaml instead'), answer('edit'));
  app.delete('/stacks/:id/annotations/:key', route('brokkr v1 remove stack annotation: edit its stack.yaml instead', withParam('key')), answer('edit'));
  app.post('/stacks/:id/deployment-objects', route('brokkr v1 submit deployment object: commit the resources instead'), answer('content'));
  app.post(
    '/stacks/:id/deployment-objects/from-template',
    route('brokkr v1 instantiate template: commit the rendered resources instead'),
    answer('content'),
  );
}
