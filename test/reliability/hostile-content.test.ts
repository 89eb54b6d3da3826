/**
 * Hostile repository content end to end through `brokkr-sync sync` (the rules themselves are unit
 * tested in test/manifest): one commit holding a 100 MB file, 10,000 files in one stack, symlinks
 * to /dev/zero and out of the repository, odd path names, an alias bomb, invalid UTF-8, binary
 * data, deep nesting, a 65-character label, an unknown field and two stacks with one name. Each
 * problem is an error naming its file, every other stack syncs, and the process's memory stays
 * bounded (peak RSS sampled inside the child).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type Run } from './support/cli.js';
import { ImportStream, makeImportRepo, symlink, write, type FileOp } from './support/fast-import.js';

const MiB = 1024 * 1024;
/** A generous bound: the daemon's baseline is ~60–80 MB; reading a 100 MB file would blow it. */
const RSS_CAP = 300 * MiB;
const NORMAL = 20;

let repo: ReturnType<typeof makeImportRepo>;
let work: string;
let run: Run;
let peakRss: number;
let db: Database.Database;

const stack = (dir: string, manifest = `name: ${dir}\n`): FileOp[] => [
  write(`${dir}/stack.yaml`, manifest),
  write(`${dir}/cm.yaml`, `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n`),
];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'brokkr-hostile-'));
  repo = makeImportRepo('brokkr-hostile-repo-');
  const ops: FileOp[] = [];
  for (let i = 0; i < NORMAL; i++) ops.push(...stack(`ok-${i}`));
  // 100 MB, streamed into git (never a file in a working tree, never in this process's memory at once).
  ops.push(...stack('huge'), write('huge/huge.yaml', { bytes: 100 * MiB, chunk: Buffer.from('key: value\n'.repeat(6000)) }));
  // 10,000 small files in one stack: valid, and synced.
  ops.push(write('many/stack.yaml', 'name: many\n'));
  for (let i = 0; i < 10_000; i++) ops.push(write(`many/f${String(i).padStart(5, '0')}.yaml`, `kind: K\nmetadata: {name: f${i}}\n`));
  ops.push(...stack('links'), symlink('links/zero.yaml', '/dev/zero'), symlink('links/passwd.yaml', '../../../../../../etc/passwd'));
  ops.push(...stack('odd paths/ünï cödé'), write('odd paths/ünï cödé/a b.yaml', 'kind: Spaced\n'), write('odd paths/ünï cödé/new\nline.yaml', 'kind: Newline\n'));
  const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    laughs.push(`${cur}: &${cur} [*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev}]`);
  }
  ops.push(...stack('bomb'), write('bomb/bomb.yaml', `${laughs.join('\n')}\n`));
  ops.push(...stack('badutf'), write('badutf/bad.yaml', Buffer.concat([Buffer.from('kind: A\nname: '), Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from('\n')])));
  ops.push(...stack('binary'), write('binary/blob.yaml', Buffer.from([0x00, 0x01, 0x02, 0xff, 0x00, 0x7f, 0x00, 0x10])));
  ops.push(...stack('deep'), write('deep/deep.yaml', `${'['.repeat(5000)}${']'.repeat(5000)}\n`));
  ops.push(...stack('longlabel', `name: longlabel\nlabels: [${'x'.repeat(65)}]\n`));
  ops.push(...stack('typo', 'name: typo\nlables: [prod]\n'));
  ops.push(...stack('dupe-a', 'name: same-name\n'), ...stack('dupe-b', 'name: same-name\n'));
  const stream = new ImportStream();
  stream.commit('refs/heads/main', 'hostile content', ops);
  await stream.run(repo.path);

  const measured = async (repoPath: string, name: string) => {
    const probe = join(work, `${name}.rss`);
    const result = await runCli(['sync', '--repo', repoPath, '--db', join(work, `${name}.db`)], {
      env: { BROKKR_RSS_PROBE_FILE: probe, NODE_OPTIONS: `--import=${new URL('./support/rss-probe.mjs', import.meta.url).pathname}` },
      timeoutMs: 120_000,
    });
    return { result, peak: Number(readFileSync(probe, 'utf8')) };
  };
  // The baseline: the same command over a repository of only the normal stacks.
  const plain = makeImportRepo('brokkr-plain-repo-');
  const plainStream = new ImportStream();
  plainStream.commit('refs/heads/main', 'plain', ops.slice(0, NORMAL * 2));
  await plainStream.run(plain.path);
  const baseline = await measured(plain.path, 'plain');
  plain.cleanup();
  const hostile = await measured(repo.path, 'brokkr');
  run = hostile.result;
  peakRss = hostile.peak;
  console.log(
    `hostile content: sync exit ${run.code} in ${Math.round(run.ms)} ms, peak RSS ${(peakRss / MiB).toFixed(1)} MiB ` +
      `(the same command over ${NORMAL} plain stacks: ${(baseline.peak / MiB).toFixed(1)} MiB)`,
  );
  db = new Database(join(work, 'brokkr.db'), { readonly: true });
}, 180_000);

afterAll(() => {
  db?.close();
  repo?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

const live = () => (db.prepare('SELECT name, path FROM stacks WHERE deleted_at IS NULL ORDER BY name').all() as { name: string; path: string }[]);
const errors = () => db.prepare('SELECT stack_path, file, line, message FROM sync_errors ORDER BY stack_path, file').all() as { stack_path: string; file: string | null; line: number | null; message: string }[];

describe('hostile repository content through sync', () => {
  it('the sync succeeds (exit 0) with peak RSS under the cap while a 100 MB file and 10,000 files are in the commit', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(peakRss).toBeGreaterThan(0);
    expect(peakRss).toBeLessThan(RSS_CAP);
  });

  it('every well-formed stack syncs: the normal ones, 10,000 files in one stack, odd path names, one of two stacks sharing a name', () => {
    const names = live().map((s) => s.name);
    for (let i = 0; i < NORMAL; i++) expect(names).toContain(`ok-${i}`);
    expect(names).toContain('many');
    expect(names).toContain('odd paths/ünï cödé');
    expect(names.filter((n) => n === 'same-name')).toHaveLength(1);
    const many = db.prepare("SELECT o.yaml_content FROM deployment_objects o JOIN stacks s ON s.id = o.stack_id WHERE s.name = 'many'").get() as { yaml_content: string };
    expect(many.yaml_content.match(/^kind: K$/gm)).toHaveLength(10_000);
    const odd = db.prepare("SELECT o.yaml_content FROM deployment_objects o JOIN stacks s ON s.id = o.stack_id WHERE s.name = 'odd paths/ünï cödé'").get() as { yaml_content: string };
    expect(odd.yaml_content).toContain('kind: Spaced');
    expect(odd.yaml_content).toContain('kind: Newline');
  });

  it('each hostile stack gets no row and an error naming its file', () => {
    const names = live().map((s) => s.name);
    for (const bad of ['huge', 'links', 'bomb', 'badutf', 'binary', 'deep', 'longlabel', 'typo']) expect(names).not.toContain(bad);
    const byFile = (file: string) => errors().filter((e) => e.file === file);
    expect(byFile('huge/huge.yaml')[0]?.message).toMatch(/104857600 bytes, over the limit/);
    expect(byFile('links/zero.yaml')[0]?.message).toMatch(/symlink|symbolic link/i);
    expect(byFile('links/passwd.yaml')[0]?.message).toMatch(/symlink|symbolic link/i);
    expect(byFile('bomb/bomb.yaml')[0]?.message).toMatch(/alias/i);
    expect(byFile('badutf/bad.yaml')[0]?.message).toMatch(/UTF-8/);
    expect(byFile('binary/blob.yaml')[0]?.message).toMatch(/binary|UTF-8|NUL/i);
    expect(byFile('deep/deep.yaml')[0]?.message).toMatch(/nest|deep/i);
    expect(byFile('longlabel/stack.yaml')[0]?.message).toMatch(/65/);
    expect(byFile('typo/stack.yaml')[0]?.message).toMatch(/unknown field "lables"/);
    expect(errors().filter((e) => e.stack_path === 'dupe-b' || e.stack_path === 'dupe-a').map((e) => e.message).join()).toMatch(/same-name/);
    // The CLI prints each as file:line: message.
    expect(run.stdout).toMatch(/^huge\/huge\.yaml: /m);
    expect(run.stdout).toMatch(/^badutf\/bad\.yaml:\d+: /m);
  });

  it('nothing behind a symlink was read: /etc/passwd and /dev/zero bytes appear nowhere in the database', () => {
    const all = (db.prepare('SELECT yaml_content FROM deployment_objects').all() as { yaml_content: string }[]).map((r) => r.yaml_content).join('\n');
    expect(all).not.toMatch(/root:x?:0:0/);
    expect(all).not.toContain('\u0000');
  });
});
