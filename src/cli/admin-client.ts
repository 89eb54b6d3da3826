/** A small typed client for the daemon's admin HTTP API, used by the admin commands of the CLI. */
import type { Options } from 'yargs';
import type { Agent, AgentAnnotation, AgentEvent, AgentLabel, AgentTarget, Stack, Uuid } from '../store/records.js';
import type { ObjectWithCommit, StackDetail } from '../store/store.js';
import type * as Answers from '../http/status-answers.js';
import type { SyncReport } from '../sync/sync-report.js';
import { CliError } from './errors.js';
import { gaveUpNote, retryOn429, type RetryOutcome } from '../agent/retry-after.js';
import { normalizeApiBaseUrl } from '../api-base-url.js';

export const DEFAULT_URL = 'http://127.0.0.1:3000';
const API_PREFIX = '/api/v1';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An agent as the API returns it (the PAK hash is never needed by, and may not reach, the CLI). */
export type AgentRecord = Omit<Agent, 'pak_hash'> & { pak_hash?: string };
export type StackRecord = Pick<Stack, 'id' | 'name' | 'deleted_at' | 'description'>;
/**
 * The status answers as the CLI reads them: more tolerant than what this daemon sends (a daemon may
 * add the cursor commit's subject, or list the invalid stacks instead of counting them).
 */
export type RepositoryState = Omit<Answers.RepositoryState, 'generator_name'> & { generator_name?: string | null; cursor_subject?: string | null };
export type SyncStatus = Omit<Answers.SyncStatus, 'repositories'> & { repositories: RepositoryState[] };
export type StatusOverview = Omit<Answers.StatusOverview, 'ready' | 'repositories' | 'stacks'> & {
  repositories: RepositoryState[];
  stacks: { total: number; invalid: number | unknown[] };
};

/** GET /generators: brokkr's generator record, the repository it stands for, and its sync state. */
export interface GeneratorDetail {
  id: Uuid;
  name: string;
  repository: { name: string; url: string; branch: string | null; root: string; interval_seconds: number | null; origin: string; auth: string; webhook_secret: boolean; syncing_here: boolean; dropped_from_config: boolean } | null;
  repo: string | null;
  branch: string | null;
  cursor_commit: string | null;
  last_sync_at: string | null;
  last_error: string | null;
  /** synced, pending, retrying or stalled (older daemons: absent). */
  condition?: string;
  reason?: string | null;
  action?: string | null;
  stacks: number;
  invalid_stacks: number;
}

/** The options every admin command takes; `.env('BROKKR')` in main.ts maps BROKKR_URL / BROKKR_PAK. */
export const adminOptions = {
  url: { type: 'string', default: DEFAULT_URL, describe: 'Base URL of the brokkr-sync daemon (env BROKKR_URL)' },
  pak: { type: 'string', describe: 'Admin PAK (env BROKKR_PAK)' },
  json: { type: 'boolean', default: false, describe: 'Print the raw JSON answer, for scripts' },
  // The daemon's own variable; accepted so an exported BROKKR_ADMIN_PAK works and is not "unknown".
  'admin-pak': { type: 'string', hidden: true },
} satisfies Record<string, Options>;

export interface AdminArgs { url?: string; pak?: string; adminPak?: string; json?: boolean }

/** Build a client from parsed flags, refusing early (usage error) when no PAK was given. */
export function clientFromArgs(args: AdminArgs): AdminClient {
  const pak = args.pak || args.adminPak;
  if (!pak) {
    throw new CliError('no admin PAK: pass --pak PAK or set BROKKR_PAK (the daemon prints it on first start and writes it to DB.admin-pak)', 2);
  }
  return new AdminClient(args.url || DEFAULT_URL, pak);
}

/** True when a command argument is an id rather than a name. */
export function isUuid(ref: string): boolean {
  return UUID_RE.test(ref);
}

/** A refusal by the daemon: the HTTP status, for the commands that act on it (`wait` keeps waiting on a 404). */
export class HttpError extends CliError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class AdminClient {
  /** The daemon's base URL, normalized (no trailing slash, no /api/v1). */
  readonly baseUrl: string;

  constructor(
    url: string,
    private readonly pak: string,
    private readonly timeoutMs = 30_000,
  ) {
    const parsed = normalizeApiBaseUrl(url);
    if (!parsed.ok) throw new CliError(parsed.problem === 'not-a-url' ? `--url ${url} is not a URL (expected e.g. ${DEFAULT_URL})` : `--url ${url} must start with http:// or https://`, 2);
    this.baseUrl = parsed.url;
  }

  /** One API call; every failure becomes a CliError whose message is one line. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}${API_PREFIX}${path}`;
    const headers: Record<string, string> = { authorization: `Bearer ${this.pak}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let outcome: RetryOutcome;
    try {
      // A 429 is waited out (its Retry-After, up to a minute, four attempts): a script looping over
      // agents must not fail because it outran the daemon's admin budget.
      outcome = await retryOn429(
        () =>
          fetch(url, {
            method,
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(this.timeoutMs),
          }),
        { onWait: (waitMs) => process.stderr.write(`brokkr-sync: rate limited by the daemon (429); retrying in ${Math.ceil(waitMs / 1000)} s\n`) },
      );
    } catch (err) {
      throw new CliError(this.describeNetworkError(err));
    }
    const res = outcome.response;
    const text = await res.text().catch(() => '');
    if (res.status === 429) throw new HttpError(429, `${describeHttpError(res, text)}; gave up: ${gaveUpNote(outcome)} (the daemon's --rate-limit sets each role's budget)`);
    if (!res.ok) throw new HttpError(res.status, describeHttpError(res, text));
    if (res.status === 204 || text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`unexpected answer from ${url}: ${res.status} with a body that is not JSON (is ${this.baseUrl} a brokkr-sync daemon?)`);
    }
  }

  private describeNetworkError(err: unknown): string {
    const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      return `no answer from brokkr-sync at ${this.baseUrl} within ${this.timeoutMs / 1000}s`;
    }
    const code = e.cause?.code;
    if (code === 'ECONNREFUSED') {
      return `cannot reach brokkr-sync at ${this.baseUrl}: is the daemon running? (brokkr-sync serve)`;
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot reach brokkr-sync at ${this.baseUrl}: unknown host`;
    return `cannot reach brokkr-sync at ${this.baseUrl}: ${code ?? e.cause?.message ?? e.message ?? String(err)}`;
  }

  // --- agents --------------------------------------------------------------------------------
  listAgents(filter: { name?: string } = {}): Promise<AgentRecord[]> {
    return this.request('GET', `/agents${query({ name: filter.name })}`);
  }
  getAgent(id: Uuid): Promise<AgentRecord> {
    return this.request('GET', `/agents/${enc(id)}`);
  }
  createAgent(input: { name: string; cluster_name: string; labels?: string[]; annotations?: Record<string, string> }) {
    return this.request<{ agent: AgentRecord; initial_pak: string }>('POST', '/agents', input);
  }
  deleteAgent(id: Uuid): Promise<void> {
    return this.request('DELETE', `/agents/${enc(id)}`);
  }
  agentLabels(id: Uuid): Promise<AgentLabel[]> {
    return this.request('GET', `/agents/${enc(id)}/labels`);
  }
  addLabel(id: Uuid, label: string): Promise<AgentLabel> {
    return this.request('POST', `/agents/${enc(id)}/labels`, { label });
  }
  removeLabel(id: Uuid, label: string): Promise<void> {
    return this.request('DELETE', `/agents/${enc(id)}/labels/${enc(label)}`);
  }
  agentAnnotations(id: Uuid): Promise<AgentAnnotation[]> {
    return this.request('GET', `/agents/${enc(id)}/annotations`);
  }
  setAnnotation(id: Uuid, key: string, value: string): Promise<AgentAnnotation> {
    return this.request('POST', `/agents/${enc(id)}/annotations`, { key, value });
  }
  removeAnnotation(id: Uuid, key: string): Promise<void> {
    return this.request('DELETE', `/agents/${enc(id)}/annotations/${enc(key)}`);
  }
  agentTargets(id: Uuid): Promise<AgentTarget[]> {
    return this.request('GET', `/agents/${enc(id)}/targets`);
  }
  addTarget(id: Uuid, stackId: Uuid): Promise<AgentTarget> {
    return this.request('POST', `/agents/${enc(id)}/targets`, { stack_id: stackId });
  }
  removeTarget(id: Uuid, stackId: Uuid): Promise<void> {
    return this.request('DELETE', `/agents/${enc(id)}/targets/${enc(stackId)}`);
  }
  agentStacks(id: Uuid): Promise<StackRecord[]> {
    return this.request('GET', `/agents/${enc(id)}/stacks`);
  }
  rotatePak(id: Uuid): Promise<{ agent: AgentRecord; pak: string }> {
    return this.request('POST', `/agents/${enc(id)}/rotate-pak`);
  }

  // --- stacks, objects, events, status -------------------------------------------------------
  listStacks(opts: { includeDeleted?: boolean } = {}): Promise<StackDetail[]> {
    return this.request('GET', `/stacks${query({ include_deleted: opts.includeDeleted ? 'true' : undefined })}`);
  }
  getStack(id: Uuid): Promise<StackDetail> {
    return this.request('GET', `/stacks/${enc(id)}`);
  }
  listObjects(stackId: Uuid): Promise<ObjectWithCommit[]> {
    return this.request('GET', `/stacks/${enc(stackId)}/deployment-objects`);
  }
  getObject(id: Uuid): Promise<ObjectWithCommit> {
    return this.request('GET', `/deployment-objects/${enc(id)}`);
  }
  listEvents(filter: { agentId?: Uuid; limit?: number } = {}): Promise<AgentEvent[]> {
    return this.request('GET', `/events${query({ agent_id: filter.agentId, limit: filter.limit?.toString() })}`);
  }
  syncStatus(): Promise<SyncStatus> {
    return this.request('GET', '/sync/status');
  }
  status(): Promise<StatusOverview> {
    return this.request('GET', '/status');
  }

  // --- name → id -----------------------------------------------------------------------------
  /** An agent by id, or by name when exactly one live agent has it. */
  listGenerators(): Promise<GeneratorDetail[]> {
    return this.request('GET', '/generators');
  }
  addRepository(body: Record<string, unknown>): Promise<GeneratorDetail> {
    return this.request('POST', '/generators', body);
  }
  removeRepository(generatorId: string, prune: boolean): Promise<void> {
    return this.request('DELETE', `/generators/${enc(generatorId)}${query({ prune: prune ? 'true' : undefined })}`);
  }
  syncRepository(generatorId: string): Promise<SyncReport> {
    return this.request('POST', `/generators/${enc(generatorId)}/sync`);
  }

  /** A repository by generator id or by name (repository or generator name). */
  async resolveRepository(ref: string): Promise<GeneratorDetail> {
    const all = await this.listGenerators();
    const found = all.find((g) => g.id === ref.toLowerCase()) ?? all.find((g) => g.repository?.name === ref || g.name === ref);
    if (!found) {
      const names = all.map((g) => g.repository?.name ?? g.name);
      throw new CliError(`no repository ${JSON.stringify(ref)}${names.length ? ` (known: ${names.join(', ')})` : ' (none yet: brokkr-sync repos add NAME URL)'}`, 1);
    }
    return found;
  }

  async resolveAgent(ref: string): Promise<AgentRecord> {
    if (isUuid(ref)) return this.getAgent(ref);
    // Filter here too: the name filter is part of the contract, but a wrong answer would act on the wrong agent.
    const found = (await this.listAgents({ name: ref })).filter((a) => a.name === ref && !a.deleted_at);
    if (found.length === 1) return found[0];
    if (found.length === 0) throw new CliError(`no agent named ${ref} (brokkr-sync agents list shows them)`);
    const clusters = found.map((a) => `${a.id} in ${a.cluster_name}`).join(', ');
    throw new CliError(`agent name ${ref} is ambiguous (${clusters}): give the id instead`);
  }

  /** A stack by id, or by name (live stacks first; a deleted one only when no live one has it). */
  async resolveStack(ref: string): Promise<StackDetail> {
    if (isUuid(ref)) return this.getStack(ref);
    const named = (await this.listStacks({ includeDeleted: true })).filter((s) => s.name === ref);
    const live = named.filter((s) => !s.deleted_at);
    const candidates = live.length ? live : named;
    if (candidates.length === 1) return candidates[0];
    if (candidates.length === 0) throw new CliError(`no stack named ${ref} (brokkr-sync stacks list shows them)`);
    throw new CliError(`stack name ${ref} matches ${candidates.length} stacks (${candidates.map((s) => s.id).join(', ')}): give the id instead`);
  }
}

function describeHttpError(res: Response, text: string): string {
  let code = res.statusText || 'error';
  let message = text.trim().split('\n')[0]?.slice(0, 200) ?? '';
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string') code = body.code;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // not JSON (a proxy's HTML page...): keep the first line of the text
  }
  const hint = res.status === 401 ? ' (check --pak or BROKKR_PAK)' : res.status === 403 ? ' (admin commands need the admin PAK)' : '';
  return `${res.status} ${code}${message ? `: ${message.split('\n')[0]}` : ''}${hint}`;
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function query(params: Record<string, string | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '');
  return entries.length ? `?${new URLSearchParams(entries).toString()}` : '';
}
