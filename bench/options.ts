/**
 * Benchmark options from argv (`--scale 0.1`, `--tools restic,borg`, `--keep`, ...) or
 * the environment (OCVAULT_BENCH_*). argv wins.
 */
import { join } from 'node:path';
import { TOOL_NAMES, type ToolName, repoRoot } from './tools.js';

export interface BenchOptions {
  scale: number;
  seed: number;
  /** Repetitions per tool (each into a fresh repository); medians are reported. */
  runs: number;
  dir: string;
  tools: ToolName[];
  keep: boolean;
  verify: 'full' | 'size' | 'none';
  withConfig: boolean;
  out: string;
  password: string;
  /** Before each timed step wait up to this many seconds for a quiet machine (0 = don't). */
  quietWait: number;
  /** "Quiet" = less than this fraction of all CPUs busy over 2 s. */
  quietMax: number;
  /** After each repetition, take its restored tree out of the page cache. */
  evict: boolean;
}

export const USAGE = `usage: node dist/bench/run.js [options]
  --scale N       dataset size, 1 = ~2 GiB (env OCVAULT_BENCH_SCALE, default 1)
  --seed N        dataset seed (env OCVAULT_BENCH_SEED, default 1)
  --runs N        repetitions per tool, medians reported (env OCVAULT_BENCH_RUNS, default 1)
  --dir DIR       data folder for the tree and scratch repos (env OCVAULT_BENCH_DIR, default /work/bench-data)
  --tools LIST    comma list of ${TOOL_NAMES.join(',')} (env OCVAULT_BENCH_TOOLS, default all installed)
  --keep          keep repositories and restored trees (env OCVAULT_BENCH_KEEP=1)
  --verify MODE   full (sha256 every file, default) | size (names + sizes) | none (env OCVAULT_BENCH_VERIFY)
  --config        also generate config.php + admin/config.php (env OCVAULT_BENCH_CONFIG=1); ocvault then
                  treats the tree as a store and dumps its database too (needs a files-only switch)
  --quiet-wait S  before each timed step, wait up to S seconds for the machine to be idle
                  (env OCVAULT_BENCH_QUIET_WAIT, default 0 = don't wait)
  --quiet-max F   idle = less than F of all CPUs busy over 2 s (env OCVAULT_BENCH_QUIET_MAX, default 0.2)
  --evict 0|1     after each repetition take its restored tree out of the page cache
                  (posix_fadvise via python3; env OCVAULT_BENCH_EVICT, default 1)
  --out FILE      results JSON (env OCVAULT_BENCH_OUT, default bench/results/latest.json)
per-tool extra args: OCVAULT_BENCH_<TOOL>_{INIT,BACKUP,RESTORE}_ARGS; borg encryption: OCVAULT_BENCH_BORG_ENCRYPTION`;

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--help' || a === '-h') { console.log(USAGE); process.exit(0); }
    if (a === '--keep' || a === '--config') { flags.set(a.slice(2), '1'); continue; }
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { flags.set(a.slice(2, eq), a.slice(eq + 1)); continue; }
    if (a.startsWith('--') && argv[i + 1] !== undefined) { flags.set(a.slice(2), argv[++i] ?? ''); continue; }
    throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  const get = (flag: string, envName: string): string | undefined => flags.get(flag) ?? env[envName];

  const scale = Number(get('scale', 'OCVAULT_BENCH_SCALE') ?? '1');
  if (!(scale > 0)) throw new Error(`bad scale ${String(scale)}`);
  const seed = Number(get('seed', 'OCVAULT_BENCH_SEED') ?? '1');
  if (!Number.isInteger(seed)) throw new Error(`bad seed ${String(seed)}`);
  const runs = Number(get('runs', 'OCVAULT_BENCH_RUNS') ?? '1');
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`bad runs ${String(runs)}`);
  const toolList = (get('tools', 'OCVAULT_BENCH_TOOLS') ?? TOOL_NAMES.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const tools: ToolName[] = [];
  for (const t of toolList) {
    if (!(TOOL_NAMES as readonly string[]).includes(t)) throw new Error(`unknown tool ${t} (known: ${TOOL_NAMES.join(', ')})`);
    tools.push(t as ToolName);
  }
  const verify = get('verify', 'OCVAULT_BENCH_VERIFY') ?? 'full';
  if (verify !== 'full' && verify !== 'size' && verify !== 'none') throw new Error(`bad verify mode ${verify}`);
  const quietWait = Number(get('quiet-wait', 'OCVAULT_BENCH_QUIET_WAIT') ?? '0');
  const quietMax = Number(get('quiet-max', 'OCVAULT_BENCH_QUIET_MAX') ?? '0.2');
  if (!(quietWait >= 0) || !(quietMax > 0 && quietMax <= 1)) throw new Error('bad --quiet-wait / --quiet-max');
  const keep = (get('keep', 'OCVAULT_BENCH_KEEP') ?? '0') !== '0';
  const evict = (get('evict', 'OCVAULT_BENCH_EVICT') ?? '1') !== '0';
  // Off by default: with config.php the tree is an OpenCart store to ocvault, which then also
  // dumps the store's database (and fails: there is none) — see README.
  const withConfig = flags.has('config') || (env['OCVAULT_BENCH_CONFIG'] ?? '0') !== '0';
  return {
    scale, seed, runs, tools, keep, verify, withConfig, quietWait, quietMax, evict,
    dir: get('dir', 'OCVAULT_BENCH_DIR') ?? '/work/bench-data',
    out: get('out', 'OCVAULT_BENCH_OUT') ?? join(repoRoot(), 'bench', 'results', 'latest.json'),
    password: env['OCVAULT_BENCH_PASSWORD'] ?? 'ocvault-bench-password',
  };
}
