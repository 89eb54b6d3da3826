/** `--config FILE`: options from a YAML or JSON file, with keys named like the long flags. */
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { CliError } from './errors.js';

export function loadConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 2);
  }
  let parsed: unknown;
  try {
    parsed = yaml.load(text, { filename: path, schema: yaml.CORE_SCHEMA });
  } catch (err) {
    throw new CliError(`config file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`, 2);
  }
  if (parsed == null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CliError(`config file ${path} must be a mapping of option names to values`, 2);
  }
  return parsed as Record<string, unknown>;
}
