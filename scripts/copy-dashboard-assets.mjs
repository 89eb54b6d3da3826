/** Copy the dashboard's static files (HTML, CSS, icons: everything but TypeScript) from src/dashboard to dist/dashboard. */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'src', 'dashboard');
const to = join(root, 'dist', 'dashboard');

let copied = 0;
for (const entry of readdirSync(from, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || entry.name.endsWith('.ts')) continue;
  const source = join(entry.parentPath, entry.name);
  const target = join(to, relative(from, source));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(source, target);
  copied += 1;
}
if (copied === 0) {
  console.error(`copy-dashboard-assets: no static files found in ${from}`);
  process.exit(1);
}
