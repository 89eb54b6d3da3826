/** stack.yaml parsing: defaults, every field rule, and problems with their lines. */
import { describe, expect, it } from 'vitest';
import { parseStackManifest, type ParsedManifest } from '../../src/manifest/stack-manifest.js';
import type { ManifestProblem } from '../../src/manifest/manifest-problem.js';

const FILE = 'teams/pay/stack.yaml';

function ok(text: string | Buffer): ParsedManifest {
  const result = parseStackManifest(text, FILE, 'teams/pay');
  if ('problems' in result) throw new Error(`unexpected problems: ${JSON.stringify(result.problems)}`);
  return result;
}

function problems(text: string | Buffer): ManifestProblem[] {
  const result = parseStackManifest(text, FILE, 'teams/pay');
  if (!('problems' in result)) throw new Error('expected problems');
  return result.problems;
}

describe('parseStackManifest', () => {
  it('an empty manifest takes every default, the name being the directory', () => {
    expect(ok('').manifest).toEqual({ name: 'teams/pay', description: null, labels: [], annotations: {} });
    expect(ok('# just a comment\n').manifest.name).toBe('teams/pay');
    expect(ok(Buffer.from('name:\nlabels:\n')).manifest).toEqual({ name: 'teams/pay', description: null, labels: [], annotations: {} });
  });

  it('reads every field and the line of name', () => {
    const parsed = ok('# payments\nname: payments-api\ndescription: Payments API\nlabels: [prod, eu]\nannotations:\n  region: eu-west-1\n  tier: backend\n');
    expect(parsed.manifest).toEqual({
      name: 'payments-api',
      description: 'Payments API',
      labels: ['prod', 'eu'],
      annotations: { region: 'eu-west-1', tier: 'backend' },
    });
    expect(parsed.nameLine).toBe(2);
    expect(ok('labels: [a]\n').nameLine).toBeNull();
  });

  it('a name no agent could write to a file is refused at its line, with why', () => {
    for (const [name, why] of [
      ['../../x', '".." path segment'],
      ['/etc/passwd', 'absolute path'],
      ['a//b', 'empty'],
      ['a\\\\b', 'backslash'],
    ] as const) {
      const [p] = problems(`labels: [a]\nname: "${name}"\n`);
      expect(p, name).toMatchObject({ file: FILE, line: 2 });
      expect(p!.message).toContain(why);
      expect(p!.message).toContain('cannot be a stack name');
    }
    expect(ok('name: teams/payments\n').manifest.name).toBe('teams/payments'); // nested names stay fine
  });

  it('an unknown field is an error naming it and suggesting the closest known field', () => {
    const [p] = problems('name: x\nlables: [prod]\n');
    expect(p).toEqual({ file: FILE, line: 2, message: 'unknown field "lables" (did you mean "labels"?)' });
    expect(problems('Annotation: {}\n')[0].message).toMatch(/did you mean "annotations"/);
    expect(problems('descripton: x\n')[0].message).toMatch(/did you mean "description"/);
    expect(problems('replicas: 3\n')[0].message).toBe('unknown field "replicas" (known fields: name, description, labels, annotations, rollout, dependsOn)');
  });

  it('a 65-character label is an error on the labels line', () => {
    const [p] = problems(`name: x\nlabels:\n  - ${'l'.repeat(65)}\n`);
    expect(p.line).toBe(2);
    expect(p.message).toMatch(/label "l+…" is 65 characters long; the limit is 64/);
  });

  it('duplicate labels, non-string labels and a scalar labels field are errors', () => {
    expect(problems('labels: [prod, prod]\n')[0].message).toBe('duplicate label "prod"');
    expect(problems('labels: [2024]\n')[0].message).toMatch(/quote it: "2024"/);
    expect(problems('labels: prod\n')[0].message).toBe('labels must be a list of strings, not a string (write labels: [prod])');
  });

  it('annotations must map strings to strings of 1..64 characters', () => {
    expect(problems('annotations: [a]\n')[0].message).toMatch(/annotations must be a mapping/);
    expect(problems('annotations:\n  replicas: 3\n')[0]).toMatchObject({ line: 1, message: expect.stringMatching(/value must be a string, not a number/) });
    expect(problems(`annotations:\n  ${'k'.repeat(65)}: v\n`)[0].message).toMatch(/annotation key .* 65 characters/);
  });

  it('name must be 1..255 characters', () => {
    expect(problems(`name: ${'n'.repeat(256)}\n`)[0]).toMatchObject({ line: 1, message: expect.stringMatching(/256 characters long; the limit is 255/) });
    expect(problems('name: 12\n')[0].message).toMatch(/name must be a string, not a number \(quote it: "12"\)/);
  });

  it('reports every problem at once', () => {
    expect(problems('lables: []\nname: [x]\nlabels: [""]\n')).toHaveLength(3);
  });

  it('YAML syntax errors carry the line', () => {
    const [p] = problems('name: ok\nlabels: [a, b\ndescription: x\n');
    expect(p.file).toBe(FILE);
    expect(p.line).toBeGreaterThanOrEqual(2);
    expect(p.message).toMatch(/^invalid YAML: /);
    expect(problems('name: a\nname: b\n')[0]).toMatchObject({ line: 2, message: expect.stringMatching(/duplicated mapping key/) });
  });

  it('a manifest that is not a mapping, or holds two documents, is an error', () => {
    expect(problems('- a\n- b\n')[0].message).toMatch(/must be a mapping of fields .* not a list/);
    expect(problems('name: a\n---\nname: b\n')[0]).toMatchObject({ line: 3, message: 'stack.yaml must hold a single YAML document' });
  });

  it('binary data and invalid UTF-8 are errors naming the file', () => {
    expect(problems(Buffer.from([0x6e, 0x3a, 0x00, 0x01]))[0]).toMatchObject({ file: FILE, message: expect.stringMatching(/binary file/) });
    expect(problems(Buffer.from('name: a\nlabels: [\xff]\n', 'latin1'))[0]).toMatchObject({ file: FILE, line: 2, message: expect.stringMatching(/not valid UTF-8/) });
  });

  it('an alias bomb in a manifest is refused', () => {
    let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 9; i++) bomb += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
    expect(problems(`labels: *a8\n${bomb}`.replace('labels: *a8\n', '') + 'labels: *a8\n').some((p) => /alias bomb/.test(p.message))).toBe(true);
  });
});
