/**
 * Database benchmark: ocvault vs `mariadb-dump | restic backup --stdin` (and borg) on one
 * throwaway MariaDB server with a generated OpenCart-scale database (dbGenerate.ts).
 *
 *   1. full backup into fresh repositories (wall time of the whole pipeline, CPU, peak RSS, repo size)
 *   2. one day of trading, then a second backup: bytes added to each repository
 *   3. restore into an empty database: ocvault restore vs `mariadb db < dump.sql` vs
 *      `myloader -t 2` (from a `mydumper -t 2` export); each checked with CHECKSUM TABLE.
 *
 * Env: OCVAULT_BENCH_DB_SCALE (1), OCVAULT_BENCH_SEED (1), OCVAULT_BENCH_DIR (/work/bench-data),
 * OCVAULT_BENCH_DB_OUT (bench/results/db-latest.json), OCVAULT_BENCH_KEEP=1, OCVAULT_BENCH_DB_TOOLS.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startThrowawayServer } from '../src/sources/mysql/index.js';
import { clientArgs, DEFAULT_FIXTURE, generateDatabase, sql, tradingDay, type DbServer } from './dbGenerate.js';
import { measureOk, type Measurement } from './measure.js';
import { cpuSample } from './quiet.js';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
/** the command as installed (npm's bin link), launcher included */
const OCVAULT = join(REPO_ROOT, 'bin/ocvault');
const scale = Number(process.env.OCVAULT_BENCH_DB_SCALE ?? 1);
const seed = Number(process.env.OCVAULT_BENCH_SEED ?? 1);
const baseDir = process.env.OCVAULT_BENCH_DIR ?? '/work/bench-data';
const outFile = process.env.OCVAULT_BENCH_DB_OUT ?? join(REPO_ROOT, 'bench/results/db-latest.json');
const keep = process.env.OCVAULT_BENCH_KEEP === '1';
const tools = (process.env.OCVAULT_BENCH_DB_TOOLS ?? 'ocvault,restic,borg').split(',');
const PASSWORD = 'bench-password';
const DB = 'shop';
const CHECK_TABLES = ['oc_order', 'oc_order_product', 'oc_order_history', 'oc_product', 'oc_customer'];

function log(m: string): void {
  console.error(`[db-bench ${new Date().toISOString().slice(11, 19)}] ${m}`);
}

interface Step {
  tool: string;
  step: string;
  wallSeconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
  otherCpuPercent: number;
  loadAverage1m: number;
  repoBytes?: number;
  addedBytes?: number;
  ocvaultAddedBytes?: number;
  verified?: boolean;
  note?: string;
}

const steps: Step[] = [];

function duBytes(path: string): number {
  const r = spawnSync('du', ['-sk', path], { encoding: 'utf8' });
  return Number(r.stdout.split('\t')[0] ?? 0) * 1024;
}

function sh(script: string): string[] {
  return ['bash', '-c', `set -euo pipefail; ${script}`];
}

function q(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

/** The server every step runs against; set once it is up. */
let benchServer: DbServer | undefined;

/**
 * Waits until the server has written out its dirty pages and purged old row versions, so no
 * tool pays for the previous one's writes (after the generator's load or a restore, InnoDB
 * flushes for tens of seconds: the first runs of this bench measured 2-3x slower steps).
 */
async function settleServer(s: DbServer): Promise<void> {
  const started = Date.now();
  const status = (): { dirty: number; history: number } => {
    const rows = sql(s, '', "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('INNODB_BUFFER_POOL_PAGES_DIRTY', 'INNODB_HISTORY_LIST_LENGTH')");
    const v = new Map(rows.trim().split('\n').map((l) => l.split('\t') as [string, string]));
    return { dirty: Number(v.get('INNODB_BUFFER_POOL_PAGES_DIRTY') ?? 0), history: Number(v.get('INNODB_HISTORY_LIST_LENGTH') ?? 0) };
  };
  sql(s, '', 'SET GLOBAL innodb_max_dirty_pages_pct = 0');
  try {
    let st = status();
    while ((st.dirty > 200 || st.history > 1000) && Date.now() - started < 180_000) {
      await new Promise((r) => setTimeout(r, 1000));
      st = status();
    }
    log(`server settled in ${((Date.now() - started) / 1000).toFixed(0)} s (dirty pages ${st.dirty}, history ${st.history})`);
  } finally {
    sql(s, '', 'SET GLOBAL innodb_max_dirty_pages_pct = 90');
  }
}

async function timed(tool: string, step: string, argv: string[], env: Record<string, string>, extra: Partial<Step> = {}): Promise<Step> {
  if (benchServer) await settleServer(benchServer);
  spawnSync('sync');
  const load = loadavg()[0] ?? 0;
  const before = cpuSample();
  log(`${tool}: ${step} …`);
  let m: Measurement;
  try {
    m = await measureOk({ argv, env });
  } catch (e) {
    log(`${tool}: ${step} FAILED: ${String(e).slice(0, 1500)}`);
    const s: Step = { tool, step, wallSeconds: NaN, cpuSeconds: NaN, peakRssMiB: NaN, otherCpuPercent: NaN, loadAverage1m: load, note: `failed: ${String(e).slice(0, 500)}`, ...extra };
    steps.push(s);
    return s;
  }
  const after = cpuSample();
  const own = m.userSeconds + m.systemSeconds;
  const total = after.totalSeconds - before.totalSeconds;
  const other = total > 0 ? Math.max(0, (after.busySeconds - before.busySeconds - own) / total) : 0;
  const s: Step = {
    tool, step, wallSeconds: m.wallSeconds, cpuSeconds: own, peakRssMiB: Math.max(m.peakRssKiB, m.peakTreeRssKiB) / 1024,
    otherCpuPercent: other * 100, loadAverage1m: load, ...extra,
  };
  steps.push(s);
  log(`${tool}: ${step} ${s.wallSeconds.toFixed(2)} s wall, ${s.cpuSeconds.toFixed(1)} s CPU, ${s.peakRssMiB.toFixed(0)} MiB RSS, other CPU ${s.otherCpuPercent.toFixed(0)} %, load ${load.toFixed(1)}`);
  return s;
}

function checksums(s: DbServer, db: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of sql(s, db, `CHECKSUM TABLE ${CHECK_TABLES.join(', ')}`).trim().split('\n')) {
    const [name = '', sum = ''] = line.split('\t');
    out[name.split('.').pop() ?? name] = sum;
  }
  return out;
}

function sameChecksums(a: Record<string, string>, b: Record<string, string>): boolean {
  return CHECK_TABLES.every((t) => a[t] !== undefined && a[t] !== '' && a[t] !== 'NULL' && a[t] === b[t]);
}

async function main(): Promise<void> {
  const runDir = join(baseDir, `db-runs/${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(runDir, { recursive: true });
  log(`scale ${scale}, seed ${seed}, dir ${runDir}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const server = await startThrowawayServer({
    parentDir: runDir,
    extraArgs: ['--innodb-buffer-pool-size=1G', '--innodb-log-file-size=256M'],
  });
  benchServer = server;
  const started = Date.now();
  try {
    const gen = await generateDatabase(server, DB, { scale, seed, workDir: join(runDir, 'tsv'), fixture: DEFAULT_FIXTURE });
    log(`generated: ${JSON.stringify(gen)}`);
    const cli = clientArgs(server).map(q).join(' ');
    const url = server.url(DB, 'socket');
    const dumpCmd = `mariadb-dump ${cli} --single-transaction --routines --triggers ${DB}`;

    // Size of the plain dump (untimed baseline, also the file for the restore comparison later).
    const dump1 = join(runDir, 'dump1.sql');
    await timed('mariadb-dump', 'dump to file (reference)', sh(`${dumpCmd} > ${q(dump1)}`), {});
    const dumpBytes = statSync(dump1).size;
    log(`dump: ${(dumpBytes / 1048576).toFixed(1)} MiB`);
    rmSync(dump1);

    const envs: Record<string, Record<string, string>> = {
      ocvault: { OCVAULT_PASSWORD: PASSWORD, OCVAULT_CACHE_DIR: join(runDir, 'ocvault-cache') },
      restic: { RESTIC_PASSWORD: PASSWORD, RESTIC_CACHE_DIR: join(runDir, 'restic-cache') },
      borg: { BORG_PASSPHRASE: PASSWORD, BORG_BASE_DIR: join(runDir, 'borg-base'), BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes', BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes' },
    };
    const repos: Record<string, string> = { ocvault: join(runDir, 'repo-ocvault'), restic: join(runDir, 'repo-restic'), borg: join(runDir, 'repo-borg') };
    const backupArgv = (tool: string, n: number): string[] => {
      const repo = repos[tool] ?? '';
      if (tool === 'ocvault') return [OCVAULT, '-r', repo, 'backup', '--db', url, '-q'];
      if (tool === 'restic') return sh(`${dumpCmd} | restic -r ${q(repo)} backup --stdin --stdin-filename db.sql --quiet`);
      return sh(`${dumpCmd} | borg create --compression zstd,3 ${q(`${repo}::db${n}`)} -`);
    };
    const init = (tool: string): void => {
      const repo = repos[tool] ?? '';
      const argv = tool === 'ocvault' ? [OCVAULT, '-r', repo, 'init']
        : tool === 'restic' ? ['restic', '-r', repo, 'init', '--repository-version', '2']
          : ['borg', 'init', '-e', 'repokey', repo];
      const r = spawnSync(argv[0] ?? '', argv.slice(1), { env: { ...process.env, ...envs[tool] }, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${tool} init failed: ${r.stderr}`);
    };
    const ocvaultAdded = (): number | undefined => {
      const r = spawnSync(OCVAULT, ['-r', repos.ocvault ?? '', 'snapshots', '--json'], { env: { ...process.env, ...envs.ocvault }, encoding: 'utf8' });
      try {
        const list = JSON.parse(r.stdout) as { addedBytes: number }[];
        return list[list.length - 1]?.addedBytes;
      } catch {
        return undefined;
      }
    };

    // 1. full backup
    for (const tool of tools) {
      init(tool);
      const s = await timed(tool, 'full backup', backupArgv(tool, 1), envs[tool] ?? {});
      s.repoBytes = duBytes(repos[tool] ?? '');
      if (tool === 'ocvault') s.ocvaultAddedBytes = ocvaultAdded();
    }

    // 2. one day of trading, then a second backup
    const day = tradingDay(server, DB, seed);
    log(`trading day: ${JSON.stringify(day)}`);
    for (const tool of tools) {
      const before = duBytes(repos[tool] ?? '');
      const s = await timed(tool, 'backup after a day', backupArgv(tool, 2), envs[tool] ?? {});
      s.repoBytes = duBytes(repos[tool] ?? '');
      s.addedBytes = s.repoBytes - before;
      if (tool === 'ocvault') s.ocvaultAddedBytes = ocvaultAdded();
    }

    // 3. restores (of the state after the day)
    const source = checksums(server, DB);
    const dump2 = join(runDir, 'dump2.sql');
    await timed('mariadb-dump', 'dump to file (for restore)', sh(`${dumpCmd} > ${q(dump2)}`), {});
    const mydir = join(runDir, 'mydumper');
    await timed('mydumper', 'export -t 2 (for restore)', ['mydumper', '-S', server.socket, '-u', server.user, '-p', server.password, '-B', DB, '-t', '2', '-o', mydir, '-R', '-G', '-E'], {});

    const restoreTo = async (tool: string, argv: string[], target: string, createFirst: boolean, env: Record<string, string> = {}): Promise<void> => {
      sql(server, '', `DROP DATABASE IF EXISTS \`${target}\`;${createFirst ? ` CREATE DATABASE \`${target}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;` : ''}`);
      const s = await timed(tool, 'restore', argv, env);
      if (Number.isNaN(s.wallSeconds)) return;
      try {
        s.verified = sameChecksums(source, checksums(server, target));
      } catch (e) {
        s.verified = false;
        s.note = `verify failed: ${String(e).slice(0, 300)}`;
      }
      log(`${tool}: restore verified: ${s.verified}`);
      sql(server, '', `DROP DATABASE IF EXISTS \`${target}\`;`);
    };
    if (tools.includes('ocvault')) {
      await restoreTo('ocvault', [OCVAULT, '-r', repos.ocvault ?? '', 'restore', 'latest', '--db', server.url('r_ocvault', 'socket'), '--db-only', '-q'], 'r_ocvault', true, envs.ocvault);
    }
    await restoreTo('mariadb', sh(`mariadb ${cli} r_mariadb < ${q(dump2)}`), 'r_mariadb', true);
    await restoreTo('myloader', ['myloader', '-S', server.socket, '-u', server.user, '-p', server.password, '-B', 'r_myloader', '-d', mydir, '-t', '2'], 'r_myloader', false);

    report({ gen, day, dumpBytes, seconds: (Date.now() - started) / 1000 });
  } finally {
    await server.stop();
    if (!keep) rmSync(runDir, { recursive: true, force: true });
  }
}

function find(tool: string, step: string): Step | undefined {
  return steps.find((s) => s.tool === tool && s.step === step);
}

function mib(b: number | undefined): string {
  return b === undefined ? '' : (b / 1048576).toFixed(1);
}

function report(meta: Record<string, unknown>): void {
  const lines: string[] = [];
  lines.push('| tool | step | wall s | CPU s | peak RSS MiB | repo MiB | added MiB (du) | other CPU % | load 1m | verified |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const s of steps) {
    lines.push(`| ${s.tool} | ${s.step} | ${s.wallSeconds.toFixed(2)} | ${s.cpuSeconds.toFixed(1)} | ${s.peakRssMiB.toFixed(0)} | ${mib(s.repoBytes)} | ` +
      `${mib(s.addedBytes)}${s.ocvaultAddedBytes !== undefined ? ` (snapshot: ${mib(s.ocvaultAddedBytes)})` : ''} | ${s.otherCpuPercent.toFixed(0)} | ${s.loadAverage1m.toFixed(1)} | ${s.verified === undefined ? '' : s.verified ? 'yes' : 'NO'} |`);
  }
  const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined || !(b > 0) || Number.isNaN(a) ? undefined : a / b);
  const targets: { metric: string; vs: string; ratio: number | undefined; target: number }[] = [
    { metric: 'full backup wall', vs: 'restic', ratio: ratio(find('ocvault', 'full backup')?.wallSeconds, find('restic', 'full backup')?.wallSeconds), target: 0.7 },
    { metric: 'full backup wall', vs: 'borg', ratio: ratio(find('ocvault', 'full backup')?.wallSeconds, find('borg', 'full backup')?.wallSeconds), target: NaN },
    { metric: 'full backup CPU', vs: 'restic', ratio: ratio(find('ocvault', 'full backup')?.cpuSeconds, find('restic', 'full backup')?.cpuSeconds), target: NaN },
    { metric: 'full backup peak RSS', vs: 'restic', ratio: ratio(find('ocvault', 'full backup')?.peakRssMiB, find('restic', 'full backup')?.peakRssMiB), target: NaN },
    { metric: 'bytes added after a day (du)', vs: 'restic', ratio: ratio(find('ocvault', 'backup after a day')?.addedBytes, find('restic', 'backup after a day')?.addedBytes), target: 0.1 },
    { metric: 'bytes added after a day (du)', vs: 'borg', ratio: ratio(find('ocvault', 'backup after a day')?.addedBytes, find('borg', 'backup after a day')?.addedBytes), target: NaN },
    { metric: 'restore wall', vs: 'mariadb client', ratio: ratio(find('ocvault', 'restore')?.wallSeconds, find('mariadb', 'restore')?.wallSeconds), target: 0.5 },
    { metric: 'restore wall', vs: 'myloader -t 2', ratio: ratio(find('ocvault', 'restore')?.wallSeconds, find('myloader', 'restore')?.wallSeconds), target: NaN },
  ];
  lines.push('', '| ocvault ratio | vs | ratio | target |', '|---|---|---:|---|');
  for (const t of targets) {
    const r = t.ratio === undefined ? 'n/a' : t.ratio.toFixed(2);
    const verdict = Number.isNaN(t.target) || t.ratio === undefined ? '—' : `≤ ${t.target} ${t.ratio <= t.target ? 'PASS' : 'MISS'}`;
    lines.push(`| ${t.metric} | ${t.vs} | ${r} | ${verdict} |`);
  }
  console.log(lines.join('\n'));
  const version = (cmd: string, arg = '--version'): string => spawnSync(cmd, [arg], { encoding: 'utf8' }).stdout.split('\n')[0]?.trim() ?? '';
  mkdirSync(resolve(outFile, '..'), { recursive: true });
  writeFileSync(outFile, JSON.stringify({
    date: new Date().toISOString(), scale, seed, ...meta,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: totalmem() / 2 ** 30, node: process.version, loadAverageEnd: loadavg() },
    versions: { restic: version('restic', 'version'), borg: version('borg'), mariadb: version('mariadb'), mydumper: version('mydumper') },
    steps, ratios: targets.map((t) => ({ ...t, target: Number.isNaN(t.target) ? null : t.target })),
  }, null, 2) + '\n');
  log(`wrote ${outFile}`);
}

if (!existsSync(DEFAULT_FIXTURE)) {
  console.error(`fixture not found: ${DEFAULT_FIXTURE}`);
  process.exit(1);
}
main().catch((e: unknown) => { console.error(e); process.exit(1); });
