/** stacks.example is valid, realistic Kubernetes YAML and its README's targeting table is true. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { lintDirectory } from '../../src/cli/commands/lint.js';

const DIR = resolve('stacks.example');

describe('stacks.example', async () => {
  const { stacks, errors } = await lintDirectory(DIR);

  it('has 4–6 valid stacks, one of them nested', () => {
    expect(errors).toBe(0);
    expect(stacks.length).toBeGreaterThanOrEqual(4);
    expect(stacks.length).toBeLessThanOrEqual(6);
    const dirs = stacks.map((s) => s.dir);
    expect(dirs.some((d) => dirs.some((p) => p !== d && d.startsWith(`${p}/`)))).toBe(true);
  });

  it('every document is a Kubernetes object with apiVersion, kind and metadata.name', () => {
    for (const stack of stacks) {
      for (const path of stack.resourcePaths) {
        for (const doc of yaml.loadAll(readFileSync(resolve(DIR, path), 'utf8'))) {
          expect(doc, path).toMatchObject({ apiVersion: expect.any(String), kind: expect.any(String), metadata: { name: expect.any(String) } });
        }
      }
    }
  });

  it('an agent labelled prod receives the stacks the README says', () => {
    const prod = stacks.filter((s) => s.manifest!.labels.includes('prod')).map((s) => s.manifest!.name);
    expect(prod.sort()).toEqual(['monitoring', 'monitoring-alerts', 'redis-cache', 'web-app']);
    const readme = readFileSync(resolve(DIR, 'README.md'), 'utf8');
    expect(readme).toMatch(/label `prod` \(the quick start's agent\)\s*\|\s*web-app, redis-cache, monitoring, monitoring-alerts\s*\|/);
  });

  it('an agent annotated region=eu-west-1 receives the eu stacks and the eu region config', () => {
    const eu = stacks.filter((s) => s.manifest!.annotations.region === 'eu-west-1').map((s) => s.manifest!.name);
    expect(eu.sort()).toEqual(['redis-cache', 'region-config-eu-west-1', 'web-app']);
  });
});
