import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { KeepPolicy } from '../ops/keepPolicy.js';
import { parseKeepDuration } from '../ops/keepDuration.js';
import { CronError, validateCron } from './cron.js';

/**
 * `ocvault.yml`: repositories (with mirrors), stores and other sources, jobs with cron
 * schedules, hooks and notification channels. Secrets are never required inline: every one can
 * be given as `*_env` (an environment variable) or `*_file` (first line of a file) instead.
 * Validation names the key path and the reason (`jobs[2].schedule: ...`).
 */

/** Where a secret comes from; resolved only when a job runs. */
export type SecretRef = { value: string } | { env: string } | { file: string } | { command: string };

export interface RepositoryConfig {
  name: string;
  location: string;
  password?: SecretRef;
  /** repositories each new snapshot is copied to */
  mirrors: string[];
}

export interface StoreConfig {
  name: string;
  path: string;
  repository: string;
  /** overrides the database the store's config.php names */
  db?: string;
  dbPassword?: SecretRef;
  excludes: string[];
}

export interface SourceConfig {
  name: string;
  paths: string[];
  repository: string;
  db?: string;
  dbPassword?: SecretRef;
  excludes: string[];
}

export interface Hooks {
  before: string[];
  after: string[];
  /** per command, in ms */
  timeoutMs: number;
}

export type JobType = 'backup' | 'forget' | 'prune' | 'check' | 'drill';
export type BackupKind = 'incremental' | 'differential' | 'full';

export interface JobConfig {
  name: string;
  type: JobType;
  schedule?: string;
  repository: string;
  store?: string;
  source?: string;
  kind: BackupKind;
  tags: string[];
  keep?: KeepPolicy;
  /** forget: prune afterwards */
  prune: boolean;
  /** check: read this fraction of the data, e.g. "1/10" */
  readData?: string;
  hooks: Hooks;
}

export type NotifyEvent = 'success' | 'warning' | 'failure';

interface ChannelBase {
  name: string;
  on: NotifyEvent[];
  /** only these jobs (default all) */
  jobs?: string[];
}
export interface SmtpChannel extends ChannelBase {
  type: 'smtp';
  host: string;
  port: number;
  secure: boolean;
  ignoreTls: boolean;
  user?: string;
  password?: SecretRef;
  from: string;
  to: string[];
}
export interface WebhookChannel extends ChannelBase {
  type: 'webhook' | 'slack';
  url: SecretRef;
}
export interface TelegramChannel extends ChannelBase {
  type: 'telegram';
  apiUrl: string;
  token: SecretRef;
  chatId: string;
}
export type Channel = SmtpChannel | WebhookChannel | TelegramChannel;

export interface AutomationConfig {
  file: string;
  stateFile: string;
  cacheDir?: string;
  repositories: Map<string, RepositoryConfig>;
  stores: Map<string, StoreConfig>;
  sources: Map<string, SourceConfig>;
  jobs: JobConfig[];
  notifications: Channel[];
  hooks: Hooks;
}

export const DEFAULT_CONFIG_FILE = 'ocvault.yml';
const DEFAULT_HOOK_TIMEOUT_MS = 10 * 60 * 1000;

function bad(key: string, reason: string): never {
  throw new OcvaultError('BadConfig', `${key}: ${reason}`, { key });
}

type Obj = Record<string, unknown>;

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function obj(v: unknown, key: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(key, `must be a mapping, not ${describe(v)}`);
  return v as Obj;
}

function only(o: Obj, key: string, allowed: string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) bad(`${key}.${k}`, `unknown key (expected one of ${allowed.join(', ')})`);
  }
}

function str(o: Obj, k: string, key: string): string;
function str(o: Obj, k: string, key: string, optional: true): string | undefined;
function str(o: Obj, k: string, key: string, optional = false): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    bad(`${key}.${k}`, 'is required');
  }
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string' || v === '') bad(`${key}.${k}`, `must be a non-empty string, not ${describe(v)}`);
  return v;
}

function strList(o: Obj, k: string, key: string): string[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) bad(`${key}.${k}`, `must be a list of strings, not ${describe(v)}`);
  return list.map((x, i) => {
    if (typeof x !== 'string' && typeof x !== 'number') bad(`${key}.${k}[${i}]`, `must be a string, not ${describe(x)}`);
    return String(x);
  });
}

function int(o: Obj, k: string, key: string, min: number): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) bad(`${key}.${k}`, `must be a whole number of at least ${min}, not ${describe(v)}`);
  return v;
}

function bool(o: Obj, k: string, key: string, dflt: boolean): boolean {
  const v = o[k];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') bad(`${key}.${k}`, `must be true or false, not ${describe(v)}`);
  return v;
}

/** `<base>`, `<base>_env`, `<base>_file`, `<base>_command`: at most one. */
function secret(o: Obj, base: string, key: string, baseDir: string): SecretRef | undefined {
  const given = ['', '_env', '_file', '_command'].filter((s) => o[base + s] !== undefined && o[base + s] !== null);
  if (given.length > 1) bad(`${key}.${base}${given[1]}`, `give only one of ${given.map((s) => base + s).join(', ')}`);
  if (given.length === 0) return undefined;
  const k = base + given[0];
  const v = str(o, k, key);
  switch (given[0]) {
    case '_env':
      return { env: v };
    case '_file':
      return { file: path.resolve(baseDir, v) };
    case '_command':
      return { command: v };
    default:
      return { value: v };
  }
}

function parseHooks(v: unknown, key: string, dflt: Hooks): Hooks {
  if (v === undefined || v === null) return dflt;
  const o = obj(v, key);
  only(o, key, ['before', 'after', 'timeout']);
  const timeout = int(o, 'timeout', key, 1);
  return {
    before: o.before === undefined ? dflt.before : strList(o, 'before', key),
    after: o.after === undefined ? dflt.after : strList(o, 'after', key),
    timeoutMs: timeout !== undefined ? timeout * 1000 : dflt.timeoutMs,
  };
}

function checkDbUrl(url: string, key: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    bad(key, 'is not a URL (expected mysql://user@host:port/db)');
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') bad(key, `must be a mysql:// URL, not ${u.protocol}`);
}

const KEEP_COUNTS = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
const KEEP_WITHIN: Record<string, keyof KeepPolicy> = {
  within: 'within',
  within_hourly: 'withinHourly',
  within_daily: 'withinDaily',
  within_weekly: 'withinWeekly',
  within_monthly: 'withinMonthly',
  within_yearly: 'withinYearly',
};

function parseKeep(v: unknown, key: string): KeepPolicy {
  const o = obj(v, key);
  only(o, key, [...KEEP_COUNTS, ...Object.keys(KEEP_WITHIN), 'tags']);
  const p: KeepPolicy = {};
  for (const k of KEEP_COUNTS) {
    const n = int(o, k, key, -1);
    if (n !== undefined) p[k] = n;
  }
  for (const [k, field] of Object.entries(KEEP_WITHIN)) {
    const s = str(o, k, key, true);
    if (s === undefined) continue;
    try {
      (p as Record<string, unknown>)[field] = parseKeepDuration(s);
    } catch (e) {
      bad(`${key}.${k}`, (e as Error).message);
    }
  }
  const tags = strList(o, 'tags', key);
  if (tags.length) p.tags = tags.map((t) => t.split(','));
  if (Object.keys(p).length === 0) bad(key, 'keeps nothing: give at least one rule (last, daily, weekly, ...)');
  return p;
}

const EVENTS: NotifyEvent[] = ['success', 'warning', 'failure'];

function parseChannel(v: unknown, key: string, baseDir: string, index: number): Channel {
  const o = obj(v, key);
  const type = str(o, 'type', key);
  const onList = o.on === undefined ? ['failure'] : strList(o, 'on', key);
  onList.forEach((e, i) => {
    if (!EVENTS.includes(e as NotifyEvent)) bad(`${key}.on[${i}]`, `"${e}" is not an event (success, warning, failure)`);
  });
  const base = { name: str(o, 'name', key, true) ?? `${type}#${index}`, on: onList as NotifyEvent[], jobs: o.jobs === undefined ? undefined : strList(o, 'jobs', key) };
  const common = ['type', 'name', 'on', 'jobs'];
  switch (type) {
    case 'smtp': {
      only(o, key, [...common, 'host', 'port', 'secure', 'ignore_tls', 'user', 'password', 'password_env', 'password_file', 'password_command', 'from', 'to']);
      const to = strList(o, 'to', key);
      if (to.length === 0) bad(`${key}.to`, 'is required (one address or a list)');
      return { ...base, type, host: str(o, 'host', key), port: int(o, 'port', key, 1) ?? 25, secure: bool(o, 'secure', key, false), ignoreTls: bool(o, 'ignore_tls', key, false), user: str(o, 'user', key, true), password: secret(o, 'password', key, baseDir), from: str(o, 'from', key), to };
    }
    case 'webhook':
    case 'slack': {
      only(o, key, [...common, 'url', 'url_env', 'url_file']);
      const url = secret(o, 'url', key, baseDir);
      if (!url) bad(`${key}.url`, 'is required (or url_env / url_file)');
      if ('value' in url && !/^https?:\/\//.test(url.value)) bad(`${key}.url`, 'must be an http:// or https:// URL');
      return { ...base, type, url };
    }
    case 'telegram': {
      only(o, key, [...common, 'token', 'token_env', 'token_file', 'chat_id', 'api_url']);
      const token = secret(o, 'token', key, baseDir);
      if (!token) bad(`${key}.token`, 'is required (or token_env / token_file)');
      return { ...base, type, token, chatId: str(o, 'chat_id', key), apiUrl: (str(o, 'api_url', key, true) ?? 'https://api.telegram.org').replace(/\/+$/, '') };
    }
    default:
      bad(`${key}.type`, `"${type}" is not a notification type (smtp, webhook, slack, telegram)`);
  }
}

function namedMap<T>(v: unknown, key: string, parse: (o: Obj, key: string, name: string) => T): Map<string, T> {
  const out = new Map<string, T>();
  if (v === undefined || v === null) return out;
  const o = obj(v, key);
  for (const [name, item] of Object.entries(o)) out.set(name, parse(obj(item, `${key}.${name}`), `${key}.${name}`, name));
  return out;
}

const JOB_TYPES: JobType[] = ['backup', 'forget', 'prune', 'check', 'drill'];
const KINDS: BackupKind[] = ['incremental', 'differential', 'full'];

/** Validates a parsed document; `file` anchors relative paths. */
export function parseAutomationConfig(doc: unknown, file: string): AutomationConfig {
  const baseDir = path.dirname(path.resolve(file));
  const root = obj(doc ?? {}, '(top level)');
  only(root, '(top level)', ['repositories', 'stores', 'sources', 'jobs', 'notifications', 'hooks', 'state_file', 'cache_dir']);

  const repositories = namedMap(root.repositories, 'repositories', (o, key, name) => {
    only(o, key, ['location', 'password', 'password_env', 'password_file', 'password_command', 'mirrors']);
    const location = str(o, 'location', key);
    return { name, location: /^[a-z0-9+]+:/i.test(location) ? location : path.resolve(baseDir, location), password: secret(o, 'password', key, baseDir), mirrors: strList(o, 'mirrors', key) };
  });
  if (repositories.size === 0) bad('repositories', 'at least one repository is required');
  for (const r of repositories.values()) {
    r.mirrors.forEach((m, i) => {
      if (!repositories.has(m)) bad(`repositories.${r.name}.mirrors[${i}]`, `"${m}" is not a repository defined under repositories`);
      if (m === r.name) bad(`repositories.${r.name}.mirrors[${i}]`, 'a repository cannot mirror itself');
    });
  }
  const repoRef = (o: Obj, key: string): string => {
    // default: the one repository that is not only a mirror
    const primaries = [...repositories.keys()].filter((n) => ![...repositories.values()].some((x) => x.mirrors.includes(n)));
    const r = str(o, 'repository', key, true) ?? (primaries.length === 1 ? primaries[0]! : undefined);
    if (r === undefined) bad(`${key}.repository`, 'is required when more than one repository (other than mirrors) is defined');
    if (!repositories.has(r)) bad(`${key}.repository`, `"${r}" is not defined under repositories`);
    return r;
  };
  const dbOf = (o: Obj, key: string): { db?: string; dbPassword?: SecretRef } => {
    const db = str(o, 'db', key, true);
    if (db !== undefined) checkDbUrl(db, `${key}.db`);
    return { db, dbPassword: secret(o, 'db_password', key, baseDir) };
  };

  const stores = namedMap(root.stores, 'stores', (o, key, name) => {
    only(o, key, ['path', 'repository', 'db', 'db_password', 'db_password_env', 'db_password_file', 'db_password_command', 'exclude']);
    return { name, path: path.resolve(baseDir, str(o, 'path', key)), repository: repoRef(o, key), ...dbOf(o, key), excludes: strList(o, 'exclude', key) };
  });
  const sources = namedMap(root.sources, 'sources', (o, key, name) => {
    only(o, key, ['paths', 'repository', 'db', 'db_password', 'db_password_env', 'db_password_file', 'db_password_command', 'exclude']);
    const paths = strList(o, 'paths', key).map((p) => path.resolve(baseDir, p));
    const db = dbOf(o, key);
    if (paths.length === 0 && !db.db) bad(key, 'needs paths, a db, or both');
    return { name, paths, repository: repoRef(o, key), ...db, excludes: strList(o, 'exclude', key) };
  });

  const hooks = parseHooks(root.hooks, 'hooks', { before: [], after: [], timeoutMs: DEFAULT_HOOK_TIMEOUT_MS });

  const jobsRaw = root.jobs ?? [];
  if (!Array.isArray(jobsRaw)) bad('jobs', `must be a list, not ${describe(jobsRaw)}`);
  const names = new Set<string>();
  const jobs = jobsRaw.map((j, i): JobConfig => {
    const key = `jobs[${i}]`;
    const o = obj(j, key);
    only(o, key, ['name', 'type', 'schedule', 'repository', 'store', 'source', 'kind', 'tags', 'keep', 'prune', 'read_data', 'hooks']);
    const name = str(o, 'name', key);
    if (!/^[A-Za-z0-9._-]+$/.test(name)) bad(`${key}.name`, `"${name}" may only hold letters, digits, '.', '_' and '-'`);
    if (names.has(name)) bad(`${key}.name`, `"${name}" is used by another job`);
    names.add(name);
    const type = str(o, 'type', key) as JobType;
    if (!JOB_TYPES.includes(type)) bad(`${key}.type`, `"${type}" is not a job type (${JOB_TYPES.join(', ')})`);
    const schedule = str(o, 'schedule', key, true);
    if (schedule !== undefined) {
      try {
        validateCron(schedule);
      } catch (e) {
        if (e instanceof CronError) bad(`${key}.schedule`, e.message);
        throw e;
      }
    }
    const store = str(o, 'store', key, true);
    const source = str(o, 'source', key, true);
    if (store !== undefined && !stores.has(store)) bad(`${key}.store`, `"${store}" is not defined under stores`);
    if (source !== undefined && !sources.has(source)) bad(`${key}.source`, `"${source}" is not defined under sources`);
    if (store !== undefined && source !== undefined) bad(key, 'give a store or a source, not both');
    if (type === 'backup' && store === undefined && source === undefined) bad(key, 'a backup job needs a store or a source');
    const target = store !== undefined ? stores.get(store)! : source !== undefined ? sources.get(source)! : undefined;
    let repository: string;
    if (o.repository !== undefined) {
      repository = repoRef(o, key);
      if (target && target.repository !== repository) bad(`${key}.repository`, `"${repository}" differs from the repository of ${store !== undefined ? `store ${store}` : `source ${source}`} ("${target.repository}")`);
    } else repository = target ? target.repository : repoRef(o, key);
    const kind = (str(o, 'kind', key, true) ?? 'incremental') as BackupKind;
    if (!KINDS.includes(kind)) bad(`${key}.kind`, `"${kind}" is not a backup kind (${KINDS.join(', ')})`);
    if (type === 'forget' && o.keep === undefined) bad(`${key}.keep`, 'a forget job needs a keep policy');
    const readData = str(o, 'read_data', key, true);
    if (readData !== undefined && !/^\d+\/\d+$|^\d+(\.\d+)?%$/.test(readData)) bad(`${key}.read_data`, `"${readData}" must look like 1/10 or 5%`);
    return {
      name,
      type,
      schedule,
      repository,
      store,
      source,
      kind,
      tags: strList(o, 'tags', key),
      keep: o.keep === undefined ? undefined : parseKeep(o.keep, `${key}.keep`),
      prune: bool(o, 'prune', key, false),
      readData,
      hooks: parseHooks(o.hooks, `${key}.hooks`, hooks),
    };
  });

  const notRaw = root.notifications ?? [];
  if (!Array.isArray(notRaw)) bad('notifications', `must be a list, not ${describe(notRaw)}`);
  const notifications = notRaw.map((n, i) => parseChannel(n, `notifications[${i}]`, baseDir, i));
  notifications.forEach((n, i) =>
    (n.jobs ?? []).forEach((j, k) => {
      if (!names.has(j)) bad(`notifications[${i}].jobs[${k}]`, `"${j}" is not a job`);
    }),
  );

  const stateFile = str(root, 'state_file', '(top level)', true);
  const cacheDir = str(root, 'cache_dir', '(top level)', true);
  return {
    file: path.resolve(file),
    stateFile: stateFile ? path.resolve(baseDir, stateFile) : path.resolve(file) + '.state.json',
    cacheDir: cacheDir ? path.resolve(baseDir, cacheDir) : undefined,
    repositories,
    stores,
    sources,
    jobs,
    notifications,
    hooks,
  };
}

/** Reads and validates a config file (default ./ocvault.yml). */
export function loadAutomationConfig(file: string = DEFAULT_CONFIG_FILE): AutomationConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new OcvaultError('BadConfig', `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new OcvaultError('BadConfig', `${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}`, { file });
  }
  try {
    return parseAutomationConfig(doc, file);
  } catch (e) {
    if (e instanceof OcvaultError) throw new OcvaultError('BadConfig', `${file}: ${e.message}`, e.data, { cause: e });
    throw e;
  }
}

export function findJob(cfg: AutomationConfig, name: string): JobConfig {
  const j = cfg.jobs.find((x) => x.name === name);
  if (!j) throw new OcvaultError('Usage', `no job named "${name}" in ${cfg.file} (jobs: ${cfg.jobs.map((x) => x.name).join(', ') || 'none'})`);
  return j;
}
