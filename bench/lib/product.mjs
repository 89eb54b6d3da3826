// Where the benchmarks load the product from: dist/ (after `npm run build`), or the directory in
// BROKKR_BENCH_DIST (a private build, so that a concurrent `npm run build` cannot swap files mid-run).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const DIST = process.env.BROKKR_BENCH_DIST ? resolve(process.env.BROKKR_BENCH_DIST) : join(HERE, '..', '..', 'dist');

/** Import a module of the built product, e.g. load('store/open-store.js'). */
export async function load(rel) {
  const file = join(DIST, rel);
  if (!existsSync(file)) throw new Error(`${file} not found: run \`npm run build\` first`);
  return import(pathToFileURL(file).href);
}
