/**
 * ocvault vs restic vs borg on one generated OpenCart-like tree: first backup into a
 * fresh repository, unchanged second backup, restore of the latest snapshot into an
 * empty folder. One tool after another, same disk, warm page cache.
 *
 *   npm run bench                      # ~2 GiB, all installed tools
 *   OCVAULT_BENCH_SCALE=0.05 npm run bench
 *   node dist/bench/run.js --help
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { rmdirSync, rmSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { benchRepetition, loadAverage, log, probeTool } from './benchTool.js';
import { manifest, type Manifest } from './fsutil.js';
import { generateStore } from './generateStore.js';
import { stopRunning } from './measure.js';
import { parseOptions } from './options.js';
import { formatRatios, formatTable, ratios, type StepResult, type ToolResult } from './report.js';
import { TOOLS } from './tools.js';

const CONDITIONS =
  'Tools run one after another (never concurrently), each into its own fresh repository on the same ' +
  'filesystem as the source. Warm cache: the source tree (before backups) or the repository (before ' +
  'restore) is read in full right before each timed step, and `sync` is run before it so no earlier ' +
  "step's dirty pages are flushed inside it. The `sync` right after a step is timed separately (flush s). " +
  "Page cache is not dropped; each repetition's restored tree (kept on disk until the run ends) is taken out of it " +
  'after verification (--evict, posix_fadvise), so repetitions start alike.';

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2), process.env);
  if (loadAverage() > 0.5) log(`warning: load average ${loadAverage().toFixed(2)} — other work on this machine will skew the timings`);
  log(`scale ${opts.scale}, seed ${opts.seed}, runs ${opts.runs}, tools ${opts.tools.join(',')}, data dir ${opts.dir}, verify ${opts.verify}${opts.keep ? ', keeping repos' : ''}`);
  await mkdir(opts.dir, { recursive: true });
  const store = await generateStore({ dir: opts.dir, scale: opts.scale, seed: opts.seed, withConfig: opts.withConfig, log });

  const runDir = join(opts.dir, 'runs', `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  await mkdir(runDir, { recursive: true });
  const cleanup = (): void => {
    if (opts.keep) return;
    rmSync(runDir, { recursive: true, force: true });
    try {
      rmdirSync(dirname(runDir)); // runs/, when empty
    } catch {
      // not empty (another run, or kept repos): leave it
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      console.error(`\n${sig}: stopping the running tool, removing ${runDir}`);
      void stopRunning('SIGTERM').finally(() => {
        cleanup();
        process.exit(130);
      });
    });
  }

  let expected: Manifest | undefined;
  if (opts.verify !== 'none') {
    log(`building source manifest (${opts.verify === 'full' ? 'sha256 of every file' : 'names and sizes'}) ...`);
    expected = await manifest(store.root, opts.verify === 'full');
  }

  const results: ToolResult[] = [];
  try {
    for (const name of opts.tools) results.push(await probeTool(TOOLS[name]));
    // Round-robin over the tools per repetition, so background load hits all of them alike.
    for (let i = 1; i <= opts.runs; i++) {
      for (const r of results) await benchRepetition(TOOLS[r.tool], r, i, store, expected, runDir, opts);
    }
  } finally {
    cleanup();
  }

  const ratioList = ratios(results);
  console.log(`\nDataset: ${store.files} files (${store.imageFiles} images, ${store.textFiles} text), ` +
    `${(store.bytes / 2 ** 30).toFixed(3)} GiB, seed ${opts.seed}, scale ${opts.scale}; ${store.root}`);
  if (opts.runs > 1) console.log(`Figures are medians of ${opts.runs} runs per tool (min–max of wall time in brackets), tools interleaved per run.`);
  console.log(`Conditions: warm page cache, sequential, same disk. ${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM.\n`);
  console.log(formatTable(results));
  console.log('');
  console.log(formatRatios(ratioList, results));
  const noisy = results.flatMap((r) => r.samples.flatMap((x) => Object.values(x) as StepResult[])).filter((x) => x.otherCpuPercent > 10);
  if (noisy.length > 0) {
    console.log(`\nWARNING: other processes used > 10% of the CPUs during ${noisy.length} timed step(s) (column "other CPU%"); ` +
      'wall times are disturbed. Re-run on an idle machine, or with --quiet-wait 300.');
  }

  const report = {
    generatedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30),
      kernel: release(), node: process.version,
    },
    options: { scale: opts.scale, seed: opts.seed, runs: opts.runs, tools: opts.tools, verify: opts.verify, withConfig: opts.withConfig, quietWait: opts.quietWait, quietMax: opts.quietMax, evict: opts.evict },
    dataset: { files: store.files, imageFiles: store.imageFiles, textFiles: store.textFiles, bytes: store.bytes, root: store.root },
    conditions: CONDITIONS,
    results,
    ratios: ratioList,
  };
  await mkdir(dirname(opts.out), { recursive: true });
  await writeFile(opts.out, JSON.stringify(report, null, 2) + '\n');
  log(`results written to ${opts.out}`);
  if (results.some((r) => r.status === 'failed')) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
