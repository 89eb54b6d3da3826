/** Headless Debian Chromium for the dashboard tests: fails (never skips) when it or the built UI is missing. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';

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

/** `call(method, path, pak, body?)` against the daemon's API (`/api/v1` + path): the JSON answer, or an error naming the status. */
export function apiCaller(baseUrl: () => string) {
  return async function call<T>(method: string, path: string, pak: string, body?: unknown): Promise<T> {
    const res = await fetch(`${baseUrl()}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${pak}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (res.status === 204 ? undefined : await res.json()) as T;
  };
}

/**
 * Pages that record their script errors and CSP violations: `closePage` asserts there were none,
 * so every test that ends with it also checks that the dashboard ran cleanly.
 */
export function checkedPages(browser: () => Browser) {
  const problems = new WeakMap<Page, string[]>();
  return {
    async newPage(): Promise<Page> {
      const page = await browser().newPage();
      const seen: string[] = [];
      problems.set(page, seen);
      page.on('pageerror', (err) => seen.push(`uncaught: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) seen.push(`console: ${msg.text()}`);
      });
      return page;
    },
    async closePage(page: Page): Promise<void> {
      expect(problems.get(page)).toEqual([]);
      await page.close();
    },
  };
}
