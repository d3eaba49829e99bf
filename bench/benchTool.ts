/**
 * Benchmarks one tool: per repetition, a fresh repository gets init, a first backup,
 * an unchanged second backup, and a restore of the latest snapshot that is then checked
 * against the source. Repositories and restored trees are removed unless asked to keep.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { diskUsage, verifyTree, warmTree, type Manifest } from './fsutil.js';
import type { StoreInfo } from './generateStore.js';
import { CommandError, measureOk, type CommandSpec } from './measure.js';
import type { BenchOptions } from './options.js';
import { cpuSample, waitForQuiet } from './quiet.js';
import { waitForFastCreates } from './createProbe.js';
import { medianStep, STEP_NAMES, type RunSample, type StepResult, type ToolResult } from './report.js';
import type { Tool, ToolContext } from './tools.js';

export function log(msg: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

/** 1-minute load average (other work on the machine skews timings; it is recorded). */
export function loadAverage(): number {
  return loadavg()[0] ?? 0;
}

function syncSeconds(): number {
  const t = process.hrtime.bigint();
  spawnSync('sync', { stdio: 'ignore' });
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/**
 * (Wait for a quiet machine,) sync, run the command (timed), sync again (timed
 * separately), measure the repository.
 */
async function step(spec: CommandSpec, opts: BenchOptions, repo?: string): Promise<StepResult> {
  if (opts.quietWait > 0) await waitForQuiet(opts.quietMax, opts.quietWait, log);
  syncSeconds();
  const loadAverage1m = loadAverage();
  const before = cpuSample();
  const m = await measureOk(spec);
  const after = cpuSample();
  const flushSeconds = syncSeconds();
  const otherCpu = after.busySeconds - before.busySeconds - m.userSeconds - m.systemSeconds;
  const capacity = m.wallSeconds * cpus().length;
  const result: StepResult = {
    wallSeconds: m.wallSeconds,
    peakRssKiB: Math.max(m.peakRssKiB, m.peakTreeRssKiB),
    userSeconds: m.userSeconds,
    systemSeconds: m.systemSeconds,
    flushSeconds,
    loadAverage1m,
    otherCpuPercent: capacity > 0 ? Math.max(0, (100 * otherCpu) / capacity) : 0,
  };
  if (repo !== undefined) {
    const du = await diskUsage(repo);
    result.repoDiskBytes = du.diskBytes;
    result.repoFiles = du.files;
  }
  return result;
}

/** Drops the cached pages of every file under `root` (posix_fadvise DONTNEED, via python3). */
const EVICT_PY = [
  'import os, sys',
  'for d, _, names in os.walk(sys.argv[1]):',
  '    for n in names:',
  '        try:',
  '            fd = os.open(os.path.join(d, n), os.O_RDONLY | os.O_NOFOLLOW)',
  '        except OSError:',
  '            continue',
  '        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)',
  '        os.close(fd)',
].join('\n');
let evictFailed = false;

/**
 * Takes a restored tree out of the page cache (it stays on disk until the run ends, see
 * below). Left cached, the trees of every repetition filled the cache, and on this VM a page
 * taken back from the cache costs as much as a new one: by the second repetition a first
 * backup spent 8 s in the kernel instead of 2 (restic 6–8 instead of 3).
 */
function evictTree(root: string, opts: BenchOptions): void {
  if (!opts.evict || evictFailed) return;
  spawnSync('sync', { stdio: 'ignore' });
  const r = spawnSync('python3', ['-c', EVICT_PY, root], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    evictFailed = true;
    log(`cannot evict restored trees from the page cache (${r.error?.message ?? r.stderr.trim().split('\n').pop() ?? 'python3 failed'}): later steps run with them cached`);
  }
}

/** One repetition; fills `sample` as it goes so a failure keeps what was measured. */
async function runOnce(tool: Tool, ctx: ToolContext, target: string, store: StoreInfo, sample: RunSample, opts: BenchOptions): Promise<void> {
  const rep = sample;
  rep.init = await step(tool.init(ctx), { ...opts, quietWait: 0 }, ctx.repo);

  await warmTree(store.root);
  rep.firstBackup = await step(tool.backup(ctx, 1), opts, ctx.repo);
  log(`${tool.name}: first backup ${rep.firstBackup.wallSeconds.toFixed(2)} s`);

  await warmTree(store.root);
  rep.unchangedBackup = await step(tool.backup(ctx, 2), opts, ctx.repo);
  log(`${tool.name}: unchanged backup ${rep.unchangedBackup.wallSeconds.toFixed(2)} s`);

  // a restore creates ~20 000 files: not while recent deletions slow that down (createProbe.ts)
  if (opts.quietWait > 0) await waitForFastCreates(join(dirname(target), 'create-probe'), Math.max(opts.quietWait, 360), log);
  await warmTree(ctx.repo);
  rep.restore = await step(tool.restore(ctx, target), opts);
  log(`${tool.name}: restore ${rep.restore.wallSeconds.toFixed(2)} s`);
}

async function verify(tool: Tool, ctx: ToolContext, target: string, expected: Manifest, hash: boolean, result: ToolResult): Promise<boolean> {
  const v = await verifyTree(expected, tool.restoredRoot(ctx, target), hash);
  const examples = [
    ...v.missing.slice(0, 5).map((p) => `missing ${p}`),
    ...v.extra.slice(0, 5).map((p) => `extra ${p}`),
    ...v.sizeMismatch.slice(0, 5).map((p) => `size differs ${p}`),
    ...v.contentMismatch.slice(0, 5).map((p) => `content differs ${p}`),
  ];
  result.verify = {
    ...v, missing: v.missing.length, extra: v.extra.length, sizeMismatch: v.sizeMismatch.length,
    contentMismatch: v.contentMismatch.length, examples,
  };
  if (v.ok) {
    log(`${tool.name}: restore verified (${v.files} files, ${v.hashed ? 'sha256' : 'names and sizes'})`);
    return true;
  }
  result.status = 'failed';
  result.error = `restore verification failed: ${v.files}/${v.expectedFiles} files, ${v.bytes}/${v.expectedBytes} bytes; ${examples.join('; ')}`;
  console.error(`\n!!!!! ${tool.name}: RESTORE DOES NOT MATCH THE SOURCE !!!!!\n  ` +
    `${v.files}/${v.expectedFiles} files, ${v.bytes}/${v.expectedBytes} bytes\n  ${examples.join('\n  ')}\n`);
  return false;
}

/** Checks the tool is installed; the result starts empty ('unavailable' if not). */
export async function probeTool(tool: Tool): Promise<ToolResult> {
  const probe = await tool.probe();
  const result: ToolResult = { tool: tool.name, version: probe.version, settings: tool.settings, status: 'ok', samples: [] };
  if (probe.version === undefined) {
    result.status = 'unavailable';
    result.error = probe.reason;
    log(`${tool.name}: not available — ${probe.reason ?? ''}`);
  } else {
    log(`${tool.name}: ${probe.version}`);
  }
  return result;
}

/** Repetition `i` of one tool into a fresh repository; appends to result.samples. */
export async function benchRepetition(
  tool: Tool, result: ToolResult, i: number, store: StoreInfo, expected: Manifest | undefined, runDir: string, opts: BenchOptions,
): Promise<void> {
  if (result.status !== 'ok') return;
  const base = join(runDir, opts.runs > 1 ? `${tool.name}-${i}` : tool.name);
  const ctx: ToolContext = { source: store.root, repo: join(base, 'repo'), work: join(base, 'work'), password: opts.password };
  const target = join(base, 'restore');
  const sample: RunSample = {};
  result.samples.push(sample);
  log(`${tool.name}${opts.runs > 1 ? ` run ${i}/${opts.runs}` : ''} (load average ${loadAverage().toFixed(2)})`);
  try {
    await mkdir(join(ctx.work, 'cache'), { recursive: true });
    await mkdir(target, { recursive: true });
    await runOnce(tool, ctx, target, store, sample, opts);
    if (expected) await verify(tool, ctx, target, expected, opts.verify === 'full', result);
    evictTree(target, opts);
  } catch (err) {
    result.status = 'failed';
    result.error = err instanceof Error ? err.message : String(err);
    console.error(`\n!!!!! ${tool.name} failed !!!!!\n${result.error}`);
    if (!(err instanceof CommandError) && err instanceof Error && err.stack) console.error(err.stack);
  } finally {
    // The restored tree stays until the whole run ends (run.ts removes the run folder): on
    // this ext4 without a journal, creating files within a minute (five while the inode table
    // is dirty) of deleting ~20k others makes inode allocation skip and re-read every one of
    // them, which cost the next tool's restore up to 20 s of sys time.
    if (!opts.keep) await Promise.all([ctx.repo, ctx.work].map((d) => rm(d, { recursive: true, force: true })));
    else log(`${tool.name}: kept ${base}`);
  }
  for (const name of STEP_NAMES) result[name] = medianStep(result.samples, name);
}
