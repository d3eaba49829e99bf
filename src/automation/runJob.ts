import { OcvaultError } from '../errors/OcvaultError.js';
import { Repository } from '../repo/repository.js';
import { backendFromUrl } from '../storage/backendFromUrl.js';
import { detectStore } from '../opencart/detectStore.js';
import { storeDatabaseUrl } from '../opencart/storeDatabase.js';
import { backup, type BackupResult } from '../ops/backup.js';
import { backupDetectedStore } from '../ops/storeBackup.js';
import { copySnapshots } from '../ops/copy.js';
import { forget } from '../ops/forget.js';
import { prune } from '../ops/prune.js';
import { check } from '../ops/check.js';
import { parseReadDataSubset } from '../ops/verifyPack.js';
import { restoreDrill } from '../ops/restoreDrill.js';
import type { AutomationConfig, JobConfig, JobType, NotifyEvent, SecretRef } from './config.js';
import { Redactor, resolveSecret } from './secrets.js';
import { describeHookFailure, runHook } from './hooks.js';

/** What one run of a job did; the notification and the log line are made from it. */
export interface JobOutcome {
  job: string;
  type: JobType;
  status: NotifyEvent;
  repository: string;
  store?: string;
  snapshotId?: string;
  addedBytes?: number;
  startedAt: string;
  durationMs: number;
  /** one line: what was done */
  summary: string;
  warnings: string[];
  /** the error text on failure (secrets removed) */
  error?: string;
}

export interface RunJobOptions {
  log?: (line: string) => void;
  /** secrets found while running are added here (so notifications can leave them out too) */
  redactor?: Redactor;
}

/** Every secret the config can resolve, so any text can be cleaned of them. */
export function configRedactor(cfg: AutomationConfig): Redactor {
  const r = new Redactor();
  const add = (ref: SecretRef | undefined): void => {
    if (!ref) return;
    if ('value' in ref) return r.add(ref.value);
    try {
      r.add(resolveSecret(ref, 'secret'));
    } catch {
      // unavailable secrets cannot leak
    }
  };
  for (const x of cfg.repositories.values()) add(x.password);
  for (const x of [...cfg.stores.values(), ...cfg.sources.values()]) add(x.dbPassword);
  for (const n of cfg.notifications) {
    if (n.type === 'smtp') add(n.password);
    else if (n.type === 'telegram') add(n.token);
    else add(n.url);
  }
  return r;
}

function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const u = new URL(url);
  u.password = encodeURIComponent(password);
  return u.toString();
}

async function openRepo(cfg: AutomationConfig, name: string, redactor: Redactor): Promise<Repository> {
  const rc = cfg.repositories.get(name)!;
  const password = rc.password ? resolveSecret(rc.password, `repositories.${name}.password`) : undefined;
  redactor.add(password);
  const backend = await backendFromUrl(rc.location);
  try {
    return await Repository.open(backend, { password, cacheDir: cfg.cacheDir });
  } catch (e) {
    await backend.close().catch(() => undefined);
    throw e;
  }
}

async function withRepo<T>(cfg: AutomationConfig, name: string, redactor: Redactor, fn: (r: Repository) => Promise<T>): Promise<T> {
  const repo = await openRepo(cfg, name, redactor);
  try {
    return await fn(repo);
  } finally {
    await repo.close().catch(() => undefined);
  }
}

type Body = Omit<JobOutcome, 'job' | 'type' | 'repository' | 'startedAt' | 'durationMs' | 'status' | 'warnings'> & { status?: NotifyEvent; warnings?: string[] };

async function runBackup(cfg: AutomationConfig, job: JobConfig, redactor: Redactor, log: (l: string) => void): Promise<Body> {
  const common = { kind: job.kind, tags: job.tags, onWarning: (m: string) => log(`warning: ${redactor.redact(m)}`) };
  let result: BackupResult;
  let storeName: string | undefined;
  let copyErrors: string[] = [];
  const mirrors = cfg.repositories.get(job.repository)!.mirrors;
  await withRepo(cfg, job.repository, redactor, async (repo) => {
    if (job.store !== undefined) {
      const sc = cfg.stores.get(job.store)!;
      const store = await detectStore(sc.path);
      if (!store) throw new OcvaultError('SourceError', `no OpenCart store at ${sc.path} (no config.php with DIR_APPLICATION)`, { path: sc.path });
      const dbPassword = sc.dbPassword ? resolveSecret(sc.dbPassword, `stores.${sc.name}.db_password`) : undefined;
      redactor.add(dbPassword);
      redactor.add(store.db.password);
      const url = sc.db !== undefined || dbPassword !== undefined ? withPassword(sc.db ?? storeDatabaseUrl(store.db), dbPassword) : undefined;
      const r = await backupDetectedStore(repo, store, { ...common, excludes: sc.excludes, databaseUrl: url });
      storeName = r.plan.info.store;
      result = r;
    } else {
      const src = cfg.sources.get(job.source!)!;
      const dbPassword = src.dbPassword ? resolveSecret(src.dbPassword, `sources.${src.name}.db_password`) : undefined;
      redactor.add(dbPassword);
      storeName = src.name;
      result = await backup(repo, { ...common, paths: src.paths, excludes: src.excludes, store: src.name, database: src.db ? { url: withPassword(src.db, dbPassword) } : undefined });
    }
    for (const m of mirrors) {
      try {
        await withRepo(cfg, m, redactor, (dst) => copySnapshots(repo, dst, { snapshots: [result.id] }));
        log(`copied snapshot ${result.id.slice(0, 8)} to mirror ${m}`);
      } catch (e) {
        copyErrors.push(`copy to mirror ${m} failed: ${redactor.redact((e as Error).message)}`);
      }
    }
  });
  const s = result!.snapshot;
  const warnings = [...result!.warnings.map((w) => redactor.redact(w)), ...copyErrors];
  copyErrors = [];
  return {
    status: warnings.length ? 'warning' : 'success',
    store: storeName,
    snapshotId: result!.id,
    addedBytes: s.stats.addedBytes,
    warnings,
    summary: `${job.kind} backup: snapshot ${result!.id.slice(0, 8)}, ${s.stats.files} files, added ${s.stats.addedBytes} bytes${mirrors.length ? `, mirrors ${mirrors.join(', ')}` : ''}`,
  };
}

async function runBody(cfg: AutomationConfig, job: JobConfig, redactor: Redactor, log: (l: string) => void): Promise<Body> {
  switch (job.type) {
    case 'backup':
      return runBackup(cfg, job, redactor, log);
    case 'forget':
      return withRepo(cfg, job.repository, redactor, async (repo) => {
        const f = await forget(repo, { policy: job.keep! });
        let summary = `forget (${f.policy}): kept ${f.kept}, removed ${f.removed.length} snapshots`;
        if (job.prune) {
          const p = await prune(repo);
          summary += `; prune freed ${p.bytes.freed} bytes`;
        }
        return { summary };
      });
    case 'prune':
      return withRepo(cfg, job.repository, redactor, async (repo) => {
        const p = await prune(repo);
        return { summary: `prune: freed ${p.bytes.freed} bytes, ${p.packs.deleted} packs deleted` };
      });
    case 'check':
      return withRepo(cfg, job.repository, redactor, async (repo) => {
        const c = await check(repo, { readData: job.readData ? parseReadDataSubset(job.readData) : undefined });
        if (!c.ok) throw new OcvaultError('CorruptObject', `check found ${c.errors.length} problem(s): ${c.errors.slice(0, 3).map((p) => JSON.stringify(p)).join('; ')}`);
        return { summary: `check: ${c.snapshots} snapshots, ${c.packs} packs, no errors` };
      });
    case 'drill':
      return withRepo(cfg, job.repository, redactor, async (repo) => {
        await repo.syncSnapshots();
        const d = await restoreDrill(repo, {});
        if (!d.passed) throw new OcvaultError('CorruptObject', `restore drill of snapshot ${d.snapshot.slice(0, 8)} failed: ${d.steps.flatMap((s) => s.problems).slice(0, 3).join('; ')}`);
        const skipped = d.steps.filter((s) => s.skipped).map((s) => `${s.name} step skipped: ${s.skipped}`);
        return { snapshotId: d.snapshot, status: d.complete ? 'success' : 'warning', warnings: skipped, summary: `restore drill of snapshot ${d.snapshot.slice(0, 8)} passed${d.complete ? '' : ' (incomplete)'}` };
      });
  }
}

/**
 * Runs one job now: before-hooks (any failure fails the job without running it), the job,
 * then after-hooks (told the outcome in OCVAULT_STATUS; a failure turns success into warning).
 * Never throws: every failure becomes an outcome with the error text, secrets removed.
 */
export async function runJob(cfg: AutomationConfig, job: JobConfig, opts: RunJobOptions = {}): Promise<JobOutcome> {
  const log = opts.log ?? (() => undefined);
  const redactor = opts.redactor ?? configRedactor(cfg);
  const started = new Date();
  const store = job.store ?? job.source;
  const base = { job: job.name, type: job.type, repository: job.repository, store, startedAt: started.toISOString() };
  const hookEnv = { OCVAULT_JOB: job.name, OCVAULT_JOB_TYPE: job.type, OCVAULT_REPOSITORY_NAME: job.repository, ...(store ? { OCVAULT_STORE: store } : {}) };
  let body: Body;
  let status: NotifyEvent;
  let beforeFailed = false;
  try {
    for (const cmd of job.hooks.before) {
      const h = await runHook(cmd, job.hooks.timeoutMs, hookEnv);
      if (!h.ok) {
        beforeFailed = true;
        throw new OcvaultError('Usage', `before-${describeHookFailure(h)}; the job did not run`);
      }
    }
    body = await runBody(cfg, job, redactor, log);
    status = body.status ?? 'success';
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    body = { summary: beforeFailed ? `${job.type} not run: a before-hook failed` : `${job.type} failed`, error: redactor.redact(message) };
    status = 'failure';
  }
  const warnings = [...(body.warnings ?? [])];
  for (const cmd of job.hooks.after) {
    const h = await runHook(cmd, job.hooks.timeoutMs, { ...hookEnv, OCVAULT_STATUS: status });
    if (!h.ok) {
      warnings.push(redactor.redact(`after-${describeHookFailure(h)}`));
      if (status === 'success') status = 'warning';
    }
  }
  return { ...base, ...body, store: body.store ?? store, status, warnings, durationMs: Date.now() - started.getTime() };
}
