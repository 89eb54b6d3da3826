/** SPEC §2 invalid stacks: each kind of bad input is an error for that stack only; it keeps its last good object; a fix clears it. */
import { afterEach, describe, expect, it } from 'vitest';
import { ENGINES } from '../store/store-fixture.js';
import { configMap, makeSyncFixture, manifest, stackFiles, type SyncFixture } from './sync-fixture.js';

let fx: SyncFixture;
afterEach(async () => fx?.cleanup());

const MAX_BYTES = 4096;

interface BadCase {
  title: string;
  /** Files written (or symlinked) into the stack directory `bad/` to break it. */
  files?: Record<string, string | Buffer>;
  symlinks?: Record<string, string>;
  file: string;
  line?: number;
  message: RegExp;
}

const aliasBomb = [
  'apiVersion: v1',
  'kind: ConfigMap',
  'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  'g: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]',
  '',
].join('\n');

const cases: BadCase[] = [
  { title: 'stack.yaml that does not parse', files: { 'stack.yaml': 'name: bad\nlabels: [prod\n' }, file: 'bad/stack.yaml', message: /./ },
  {
    title: 'an unknown field in stack.yaml',
    files: { 'stack.yaml': 'name: bad\nlables: [prod]\n' },
    file: 'bad/stack.yaml',
    line: 2,
    message: /unknown field "lables"/,
  },
  {
    title: 'a label longer than 64 characters',
    files: { 'stack.yaml': `name: bad\nlabels: [${'x'.repeat(65)}]\n` },
    file: 'bad/stack.yaml',
    line: 2,
    message: /65 characters/,
  },
  { title: 'a duplicate label', files: { 'stack.yaml': 'name: bad\nlabels: [prod, prod]\n' }, file: 'bad/stack.yaml', line: 2, message: /duplicate label/ },
  {
    title: 'an annotation value longer than 64 characters',
    files: { 'stack.yaml': `name: bad\nannotations:\n  region: ${'y'.repeat(65)}\n` },
    file: 'bad/stack.yaml',
    message: /65 characters/,
  },
  {
    title: 'a resource file that does not parse',
    files: { 'config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n' },
    file: 'bad/config.yaml',
    message: /./,
  },
  {
    title: 'a document that is not a mapping',
    files: { 'config.yaml': `${configMap('ok')}---\n- just\n- a list\n` },
    file: 'bad/config.yaml',
    message: /not a mapping/,
  },
  { title: 'an alias bomb', files: { 'config.yaml': aliasBomb }, file: 'bad/config.yaml', message: /alias/i },
  { title: 'a binary file', files: { 'config.yaml': Buffer.from([0x61, 0x3a, 0x20, 0x00, 0x01, 0x02]) }, file: 'bad/config.yaml', message: /binary/ },
  { title: 'a symbolic link', symlinks: { 'passwd.yaml': '/etc/passwd' }, file: 'bad/passwd.yaml', message: /symbolic link/ },
  {
    title: 'content over the size limit',
    files: { 'big.yaml': `apiVersion: v1\nkind: ConfigMap\ndata:\n  blob: "${'z'.repeat(MAX_BYTES)}"\n` },
    file: 'bad/',
    message: /over the limit/,
  },
];

describe.each(ENGINES)('invalid stacks (%s)', (engine) => {
  it.each(cases)('$title: the stack keeps its last good object, the others sync, a fix clears the error', async (c) => {
    fx = await makeSyncFixture({ maxContentBytes: MAX_BYTES }, engine);
    fx.repo.writeAll({ ...stackFiles('bad', { name: 'bad' }, 'good-1'), ...stackFiles('good', {}, 'v1') }).commit('both valid');
    await fx.sync();

    if (c.files) fx.repo.writeAll(Object.fromEntries(Object.entries(c.files).map(([k, v]) => [`bad/${k}`, v])));
    for (const [path, target] of Object.entries(c.symlinks ?? {})) fx.repo.symlink(`bad/${path}`, target);
    fx.repo.writeAll(stackFiles('good', {}, 'v2'));
    const broken = fx.repo.commit('break bad, change good');
    const report = await fx.sync();
    expect(report.failure).toBeUndefined();

    // The other stack synced normally.
    expect((await fx.objects('good'))[0]!.yaml_content).toContain('v2');
    // The broken stack keeps its last good object and is not deleted.
    const objects = await fx.objects('bad');
    expect(objects).toHaveLength(1);
    expect(objects[0]!.yaml_content).toContain('good-1');
    // The error is recorded with stack, commit, file and line.
    const errors = await fx.store.listSyncErrors();
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.stack_path === 'bad' && e.commit_sha === broken)).toBe(true);
    const match = errors.find((e) => c.message.test(e.message));
    expect(match, JSON.stringify(errors)).toBeDefined();
    expect(match!.file ?? '').toContain(c.file);
    if (c.line !== undefined) expect(match!.line).toBe(c.line);
    expect(report.invalid_stacks).toEqual(['bad']);

    // A later commit that fixes it syncs it and clears the error.
    fx.repo.remove('bad').writeAll(stackFiles('bad', { name: 'bad' }, 'good-2')).commit('fix bad');
    const fixed = await fx.sync();
    expect(fixed.commits[0]!.cleared).toEqual(['bad']);
    expect(await fx.store.listSyncErrors()).toEqual([]);
    expect((await fx.objects('bad'))[0]!.yaml_content).toContain('good-2');
  });

  it('a new stack that is invalid gets no row until it is fixed; its error names the stack', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('good'), 'newbie/stack.yaml': 'name: newbie\nbogus: 1\n', 'newbie/a.yaml': configMap('a') }).commit('add');
    await fx.sync();
    expect(await fx.names()).toEqual(['good']);
    const [error] = await fx.store.listSyncErrors();
    expect(error).toMatchObject({ stack_path: 'newbie', file: 'newbie/stack.yaml', line: 2 });
    fx.repo.write('newbie/stack.yaml', manifest({ name: 'newbie' })).commit('fix');
    await fx.sync();
    expect(await fx.names()).toEqual(['good', 'newbie']);
    expect(await fx.store.listSyncErrors()).toEqual([]);
  });

  it('an invalid stack that is later removed has its error cleared', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll({ ...stackFiles('good'), 'broken/stack.yaml': 'labels: [x, x]\n' }).commit('add');
    await fx.sync();
    expect(await fx.store.listSyncErrors()).toHaveLength(1);
    fx.repo.remove('broken').commit('remove');
    await fx.sync();
    expect(await fx.store.listSyncErrors()).toEqual([]);
  });

  it('a directory rename with broken content moves the stack instead of deleting it', async () => {
    fx = await makeSyncFixture({}, engine);
    fx.repo.writeAll(stackFiles('apps/web', { name: 'web' })).commit('add');
    await fx.sync();
    const id = (await fx.stack('web')).id;
    fx.repo.rename('apps/web', 'svc/web').write('svc/web/config.yaml', 'kind: [broken\n').commit('move and break');
    const report = await fx.sync();
    expect(report.commits[0]!.deleted).toEqual([]);
    expect(report.commits[0]!.updated).toEqual([{ stack_id: id, name: 'web', path: 'svc/web', fields: ['path'], previous_path: 'apps/web' }]);
    expect(await fx.stack('web')).toMatchObject({ id, path: 'svc/web' });
    expect((await fx.store.listSyncErrors()).map((e) => e.stack_path)).toEqual(['svc/web']);
  });
});
