/**
 * Drift repair: the files this agent wrote are the daemon's to own. One that was edited or
 * deleted by hand is put back from the last applied content (kept in OUT/.brokkr-agent/), and
 * the repair is logged so the person who edited it learns why their change vanished.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import type { LocalState } from './local-state.js';
import { sha256Hex } from '../sha256-hex.js';
import type { AgentLogger } from './logger.js';

export interface DriftResult {
  /** Files put back. */
  restored: string[];
  /** Stacks whose kept content was missing: forgotten, so the next full pass re-applies them. */
  refetch: string[];
}

export async function repairDrift(outDir: string, local: LocalState, logger: AgentLogger): Promise<DriftResult> {
  const result: DriftResult = { restored: [], refetch: [] };
  for (const [stackId, entry] of local.entries()) {
    if (!entry.file) continue;
    const path = join(outDir, entry.file);
    let current: string | null;
    try {
      current = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        logger.warn(`cannot read ${path} to check for drift: ${(err as Error).message}`);
        continue;
      }
      current = null;
    }
    if (current !== null && sha256Hex(current) === entry.checksum) continue;

    const how = current === null ? 'deleted' : 'edited';
    const content = await local.lastContent(stackId);
    if (content === null || sha256Hex(content) !== entry.checksum) {
      logger.warn(`${entry.file} was ${how} by hand and its last applied content is not kept; fetching it again`);
      await local.forget(stackId);
      result.refetch.push(stackId);
      continue;
    }
    try {
      await writeFileAtomic(path, content);
    } catch (err) {
      logger.error(`${entry.file} was ${how} by hand and cannot be restored: ${(err as Error).message}`);
      continue;
    }
    logger.info(`restored ${entry.file}: it was ${how} by hand (stack ${entry.name}, sequence ${entry.sequence_id}); change it in git instead`);
    result.restored.push(entry.file);
  }
  return result;
}
