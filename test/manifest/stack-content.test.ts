/** Stack content: the SPEC §2 exact test over tricky files, determinism, checksum, hostile input. */
import { createHash } from 'node:crypto';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_CONTENT_BYTES, buildStackContent, type ContentFile } from '../../src/manifest/stack-content.js';
import type { ManifestProblem } from '../../src/manifest/manifest-problem.js';

function files(map: Record<string, string | Buffer>): ContentFile[] {
  return Object.entries(map).map(([path, data]) => ({ path, data: Buffer.isBuffer(data) ? data : Buffer.from(data) }));
}

function build(map: Record<string, string | Buffer>, maxBytes = DEFAULT_MAX_CONTENT_BYTES) {
  return buildStackContent(files(map), maxBytes);
}

function content(map: Record<string, string | Buffer>): string {
  const result = build(map);
  if ('problems' in result) throw new Error(`unexpected problems: ${JSON.stringify(result.problems)}`);
  return result.content;
}

function problemsOf(map: Record<string, string | Buffer>, maxBytes?: number): ManifestProblem[] {
  const result = build(map, maxBytes);
  if (!('problems' in result)) throw new Error('expected problems');
  return result.problems;
}

const nonEmpty = (docs: unknown[]): unknown[] => docs.filter((d) => d !== null && d !== undefined);

/** The SPEC's exact test: the stream's documents are the files' documents, in order. */
function expectExact(map: Record<string, string>): void {
  const stream = content(map);
  const expected = Object.values(map).flatMap((text) => yaml.loadAll(text));
  expect(nonEmpty(yaml.loadAll(stream))).toEqual(nonEmpty(expected));
}

const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

describe('buildStackContent', () => {
  it('concatenates files in the given order with # Source comments', () => {
    const text = content({ 'a/1.yaml': cm('one'), 'a/2.yaml': cm('two') });
    expect(text).toBe(`---\n# Source: a/1.yaml\n${cm('one')}---\n# Source: a/2.yaml\n${cm('two')}`);
  });

  it('checksum is the lowercase hex SHA-256 of the content', () => {
    const result = build({ 'x.yaml': cm('x') });
    if ('problems' in result) throw new Error('unexpected');
    expect(result.checksum).toBe(createHash('sha256').update(result.content).digest('hex'));
    expect(result.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the same files give byte-identical content', () => {
    const input = { 'a.yaml': cm('a'), 'b.yaml': `# c\n${cm('b')}---\n${cm('c')}` };
    expect(content(input)).toBe(content({ ...input }));
    const one = build(input);
    const two = build(input);
    expect(one).toEqual(two);
  });

  it('a stack with no resource files has empty-document content', () => {
    const result = build({});
    expect(result).toEqual({ content: '', checksum: createHash('sha256').update('').digest('hex') });
  });

  describe('SPEC §2 exact test over tricky files', () => {
    it('files without a trailing newline', () => expectExact({ '1.yaml': 'a: 1', '2.yaml': 'b: 2' }));
    it('files with leading --- and several documents', () =>
      expectExact({ '1.yaml': '---\na: 1\n---\nb: 2\n', '2.yaml': '---\nc: 3' }));
    it('document end markers', () => expectExact({ '1.yaml': 'a: 1\n...\n', '2.yaml': '...\nb: 2\n...', '3.yaml': 'c: 3\n' }));
    it('comments only, empty files and empty documents', () =>
      expectExact({ '1.yaml': '# nothing here', '2.yaml': '', '3.yaml': '---\n---\na: 1\n---\n', '4.yaml': '\n\n' }));
    it('%YAML and %TAG directives', () =>
      expectExact({
        '1.yaml': 'a: 1',
        '2.yaml': '# leading comment\n%YAML 1.2\n---\nb: 2\n',
        '3.yaml': '%TAG !e! tag:yaml.org,2002:\n---\nc: !e!str 3\n...\n%YAML 1.2\n---\nd: 4\n',
      }));
    it('block scalars with keep chomping at the end of a file', () =>
      expectExact({ '1.yaml': 'a: |+\n  keep\n\n', '2.yaml': 'b: |+\n  no newline', '3.yaml': 'c: |-\n  strip\n   ', '4.yaml': 'd: >\n  folded\n  text' }));
    it('clipped block scalars followed by blank lines', () => expectExact({ '1.yaml': 'a: |\n  clip\n\n\n', '2.yaml': 'b: >-\n  x\n\n' }));
    it('byte-order marks, CRLF and lone CR line endings', () =>
      expectExact({ '1.yaml': '\uFEFFa: 1\r\nb: 2\r\n', '2.yaml': '\uFEFFc: 3', '3.yaml': 'd: 4\re: 5\r' }));
    it('anchors and aliases stay within their file', () =>
      expectExact({ '1.yaml': 'x: &v 1\ny: *v\n', '2.yaml': 'x: &v 2\ny: *v\n' }));
    it('multi-line plain and quoted scalars at the end of a file', () =>
      expectExact({ '1.yaml': 'a: plain\n  continued', '2.yaml': 'b: "quoted\n  continued"', '3.yaml': 'c: 1 # trailing comment' }));
    it('indented top-level mappings and flow mappings', () => expectExact({ '1.yaml': '  a: 1\n  b: 2\n', '2.yaml': '{c: 3}', '3.yaml': '--- {d: 4}\n' }));
    it('a file ending inside a comment after ---', () => expectExact({ '1.yaml': 'a: 1\n--- # comment', '2.yaml': 'b: 2' }));
    it('paths with spaces, unicode and newlines in # Source comments', () => {
      const map = { 'my dir/a b.yaml': 'a: 1', 'é/ü.yaml': 'b: 2', 'new\nline.yaml': 'c: 3', ' lead.yaml': 'd: 4' };
      expectExact(map);
      const text = content(map);
      expect(text).toContain('# Source: "new\\nline.yaml"\n');
      expect(text).toContain('# Source: my dir/a b.yaml\n');
      expect(text).toContain('# Source: é/ü.yaml\n');
    });
  });

  it('every combination of tricky files passes the exact test', () => {
    const pool = [
      'a: 1', 'a: 1\n', '---\nb: 2\n', 'c: 3\n...\n', '...\n', '', '# only comment', '%YAML 1.2\n---\nd: 4',
      'e: |+\n  keep\n\n', 'f: |+\n  keep', 'g: >\n  fold\n  ed', '\uFEFFh: 1', 'i: 1\r\n', 'j: "q\n  r"',
      'k: &x {l: 1}\nm: *x\n', '--- {n: 1}\n--- {o: 2}', 'p: plain\n  more', '---\n', 'q: 1 # c', '  r: 1\n  s: 2',
    ];
    let checked = 0;
    for (let i = 0; i < pool.length; i++) {
      for (let j = 0; j < pool.length; j++) {
        for (const k of [0, 7, 9, 15]) {
          expectExact({ '1.yaml': pool[i], '2.yaml': pool[j], '3.yaml': pool[k] });
          checked += 1;
        }
      }
    }
    expect(checked).toBe(pool.length * pool.length * 4);
  });

  it('a document that is not a mapping is an error with its file and line', () => {
    const problems = problemsOf({ 'ok.yaml': cm('ok'), 'bad.yaml': 'a: 1\n---\n# c\n- just\n- a list\n' });
    expect(problems).toEqual([{ file: 'bad.yaml', line: 4, message: 'document 2 is a list, not a mapping (each document must be a Kubernetes object)' }]);
    expect(problemsOf({ 's.yaml': 'hello\n' })[0].message).toMatch(/document 1 is a string, not a mapping/);
  });

  it('YAML errors are reported per file with a line, all files at once', () => {
    const problems = problemsOf({ '1.yaml': 'a: [1, 2\n', '2.yaml': 'ok: 1\n', '3.yaml': 'b: 1\n  c: 2\n   - x\n' });
    expect(problems.map((p) => p.file)).toEqual(['1.yaml', '3.yaml']);
    for (const p of problems) {
      expect(p.line).toEqual(expect.any(Number));
      expect(p.message).toMatch(/^invalid YAML: /);
    }
  });

  it('a binary file named .yaml is an error naming the file', () => {
    const [p] = problemsOf({ 'img.yaml': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]) });
    expect(p).toMatchObject({ file: 'img.yaml', message: expect.stringMatching(/binary file/) });
  });

  it('invalid UTF-8 is an error naming the file and line', () => {
    const [p] = problemsOf({ 'latin.yaml': Buffer.concat([Buffer.from('a: 1\nb: caf'), Buffer.from([0xe9]), Buffer.from('\n')]) });
    expect(p).toEqual({ file: 'latin.yaml', line: 2, message: 'not valid UTF-8 (byte 0xe9 at offset 11)' });
  });

  it('a billion-laughs alias bomb is refused quickly', () => {
    let bomb = 'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
    for (let i = 1; i < 10; i++) bomb += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
    const before = process.memoryUsage().heapUsed;
    const [p] = problemsOf({ 'bomb.yaml': bomb });
    expect(p.file).toBe('bomb.yaml');
    expect(p.message).toMatch(/alias bomb/);
    expect(p.line).toBe(1);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('a moderate use of anchors is fine', () => {
    const env = Array.from({ length: 20 }, (_, i) => `    - {name: V${i}, value: "${i}"}\n`).join('');
    const containers = Array.from({ length: 50 }, (_, i) => `  - name: c${i}\n    env: ${i === 0 ? '&env\n' + env : '*env\n'}`).join('');
    const result = build({ 'a.yaml': `kind: Pod\nmetadata: {name: p}\ncontainers:\n${containers}` });
    expect('content' in result ? 'ok' : result.problems).toBe('ok');
  });

  it('a recursive alias is refused', () => {
    expect(problemsOf({ 'r.yaml': 'a: &x [1, *x]\n' })[0].message).toMatch(/recursive alias/);
  });

  it('deep nesting is a clear problem, not a crash', () => {
    const [p] = problemsOf({ 'deep.yaml': '['.repeat(100_000) });
    expect(p).toMatchObject({ file: 'deep.yaml', message: expect.stringMatching(/^invalid YAML: .*(nest|deep)/) });
    const [q] = problemsOf({ 'deep2.yaml': `a:\n${Array.from({ length: 200 }, (_, i) => `${' '.repeat(i + 1)}- `).join('\n')}x\n` });
    expect(q.file).toBe('deep2.yaml');
  });

  it('10,000 files in one stack build in path order', () => {
    const map: Record<string, string> = {};
    for (let i = 0; i < 10_000; i++) map[`s/${String(i).padStart(5, '0')}.yaml`] = cm(`c${i}`);
    const text = content(map);
    const docs = yaml.loadAll(text) as { metadata: { name: string } }[];
    expect(docs).toHaveLength(10_000);
    expect(docs[9_999].metadata.name).toBe('c9999');
  });

  it('content over the limit is a problem naming the size and the limit', () => {
    const [p] = problemsOf({ 'big.yaml': `a: "${'x'.repeat(2000)}"\n` }, 1000);
    expect(p.file).toBeNull();
    expect(p.message).toMatch(/^stack content is 2006 bytes, over the limit of 1000 bytes$/);
    // Separators count too: the built stream, not only the files, must fit.
    const [q] = problemsOf({ 'a.yaml': 'a: 1\n' }, 10);
    expect(q.message).toMatch(/stack content is \d+ bytes, over the limit of 10 bytes/);
  });
});
