/** What every dashboard test starts from: a daemon synced to a new repository, and Chromium. */
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import pino from 'pino';
import { startDaemon, type Daemon } from '../../src/daemon/daemon.js';
import { makeRepo, makeTempDir, type TestRepo } from '../helpers/git-repo.js';
import { launchChromium, requireBrowserPrerequisites } from './chromium.js';

export interface DashboardWorld {
  repo: TestRepo;
  daemon: Daemon;
  adminPak: string;
  browser: Browser;
  /** Closes Chromium and the daemon, removes the repository and the data directory. */
  close(): Promise<void>;
}

/** A repository with `files` in one commit, a daemon (no rate limits) that synced it, and Chromium. */
export async function startDashboardWorld(files: Record<string, string>, message: string): Promise<DashboardWorld> {
  requireBrowserPrerequisites();
  const repo = await makeRepo();
  repo.writeAll(files);
  repo.commit(message);
  const data = makeTempDir('brokkr-dash-');
  const daemon = await startDaemon({ repo: repo.path, db: join(data.path, 'brokkr.db'), port: 0, env: {}, logger: pino({ level: 'silent' }), rateLimit: false });
  await daemon.firstSync;
  const browser = await launchChromium();
  return {
    repo,
    daemon,
    adminPak: daemon.adminPak!,
    browser,
    async close() {
      await browser.close();
      await daemon.close();
      repo.cleanup();
      data.cleanup();
    },
  };
}
