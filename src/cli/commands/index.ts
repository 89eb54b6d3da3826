/** Every command of the CLI; each lives in its own file beside this one. */
import type { CommandModule } from 'yargs';
import { agentsCommand } from './agents.js';
import { stacksCommand } from './stacks.js';
import { objectsCommand } from './objects.js';
import { eventsCommand } from './events.js';
import { statusCommand } from './status.js';
import { dbCommand } from './db.js';
import { agentCommand } from './agent.js';
import { demoCommand } from './demo.js';
import { syncCommand } from './sync.js';
import { lintCommand } from './lint.js';
import { rollbackCommand, rolloutCommand } from './rollout.js';
import { serveCommand } from './serve.js';
import { reposCommand } from './repos.js';
import { waitCommand } from './wait.js';
import { webhooksCommand } from './webhooks.js';
import { paksCommand } from './paks.js';
import { auditCommand } from './audit.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
  agentsCommand,
  stacksCommand,
  objectsCommand,
  eventsCommand,
  statusCommand,
  reposCommand,
  waitCommand,
  webhooksCommand,
  paksCommand,
  auditCommand,
  dbCommand,
  agentCommand,
  demoCommand,
  syncCommand,
  lintCommand,
  rolloutCommand,
  rollbackCommand,
  serveCommand,
];
