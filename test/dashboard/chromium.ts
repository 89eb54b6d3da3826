/** Headless Debian Chromium for the dashboard tests: fails (never skips) when it or the built UI is missing. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const ASSETS = join(import.meta.dirname, '../../dist/dashboard/index.html');

/** The flags this closed network needs: without the background-networking ones Chromium keeps dialling out. */
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Throw a clear error unless Chromium and the built dashboard are there. */
export function requireBrowserPrerequisites(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the dashboard browser tests need Debian's chromium package (apt-get install -y chromium; .ci/run installs it)`);
  }
  if (!existsSync(ASSETS)) throw new Error(`${ASSETS} not found: build the dashboard first (npm run build; npm test runs it as pretest)`);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}
