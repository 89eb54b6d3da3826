/**
 * How the agent applies a stack: write `OUT/<file>` (default) or pipe the content to `--apply CMD`;
 * how it removes one: delete the file or run `--delete CMD` with the last applied content on stdin
 * (so `kubectl delete -f -` knows what to delete).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { describeExit, runCommand, type CommandResult } from './run-command.js';

export interface ApplyRequest {
  stackId: string;
  stackName: string;
  sequenceId: number;
  /** Target file name inside OUT (already made safe); null when an --apply command handles it. */
  file: string | null;
  content: string;
}

export interface RemoveRequest {
  stackId: string;
  stackName: string;
  sequenceId: number;
  /** The file this agent wrote for the stack, if any. */
  file: string | null;
  /** What was last applied (stdin of --delete), '' if unknown. */
  lastContent: string;
}

export type Outcome = { ok: true; message: string } | { ok: false; message: string };

export interface Applier {
  /** True when applies write files into OUT (drift detection applies to them). */
  readonly writesFiles: boolean;
  apply(req: ApplyRequest): Promise<Outcome>;
  remove(req: RemoveRequest): Promise<Outcome>;
}

export interface ApplierOptions {
  outDir: string;
  applyCommand?: string;
  deleteCommand?: string;
  commandTimeoutMs?: number;
}

/** Messages sent to the daemon stay small: the end of stderr is where the reason usually is. */
const MESSAGE_TAIL_BYTES = 2048;

export function createApplier({ outDir, applyCommand, deleteCommand, commandTimeoutMs = 300_000 }: ApplierOptions): Applier {
  return {
    writesFiles: !applyCommand,
    async apply(req) {
      if (applyCommand) {
        const r = await runCommand({ command: applyCommand, stdin: req.content, env: commandEnv(req), timeoutMs: commandTimeoutMs, keepBytes: MESSAGE_TAIL_BYTES });
        return commandOutcome(applyCommand, r);
      }
      if (!req.file) return { ok: false, message: `no file name for stack ${req.stackName}` };
      try {
        await writeFileAtomic(join(outDir, req.file), req.content);
        return { ok: true, message: `wrote ${req.file} (${Buffer.byteLength(req.content)} bytes)` };
      } catch (err) {
        return { ok: false, message: `cannot write ${join(outDir, req.file)}: ${(err as Error).message}` };
      }
    },
    async remove(req) {
      if (deleteCommand) {
        const r = await runCommand({ command: deleteCommand, stdin: req.lastContent, env: commandEnv(req), timeoutMs: commandTimeoutMs, keepBytes: MESSAGE_TAIL_BYTES });
        return commandOutcome(deleteCommand, r);
      }
      if (!req.file) return { ok: true, message: 'nothing to remove (no file was written for this stack; pass --delete CMD to run a command)' };
      try {
        await rm(join(outDir, req.file), { force: true });
        return { ok: true, message: `removed ${req.file}` };
      } catch (err) {
        return { ok: false, message: `cannot remove ${join(outDir, req.file)}: ${(err as Error).message}` };
      }
    },
  };
}

function commandEnv(req: { stackId: string; stackName: string; sequenceId: number }): Record<string, string> {
  return { BROKKR_STACK_NAME: req.stackName, BROKKR_STACK_ID: req.stackId, BROKKR_SEQUENCE_ID: String(req.sequenceId) };
}

function commandOutcome(command: string, r: CommandResult): Outcome {
  const head = describeExit(command, r);
  if (r.code === 0 && !r.timedOut) {
    return { ok: true, message: r.stdoutTail ? `${head}: ${r.stdoutTail.slice(-512)}` : head };
  }
  const detail = r.stderrTail || r.stdoutTail;
  return { ok: false, message: detail ? `${head}: ${detail}` : head };
}
