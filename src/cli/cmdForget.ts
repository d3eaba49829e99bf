import type { Command } from 'commander';
import { OcvaultError } from '../errors/OcvaultError.js';
import { forget, type ForgetResult } from '../ops/forget.js';
import { prune, type PruneResult } from '../ops/prune.js';
import type { KeepPolicy } from '../ops/keepPolicy.js';
import { parseKeepDuration } from '../ops/keepDuration.js';
import { describeGroup, parseGroupBy } from '../ops/snapshotGroups.js';
import { parseMaxUnused } from '../ops/prunePlan.js';
import { withRepository, output, type GlobalOptions } from './context.js';
import { table, type Output } from './output.js';
import { parseGrace, printPrune } from './cmdPrune.js';

interface ForgetFlags {
  keepLast?: string;
  keepHourly?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  keepYearly?: string;
  keepWithin?: string;
  keepWithinHourly?: string;
  keepWithinDaily?: string;
  keepWithinWeekly?: string;
  keepWithinMonthly?: string;
  keepWithinYearly?: string;
  keepTag: string[];
  groupBy: string;
  dryRun?: boolean;
  prune?: boolean;
  maxUnused?: string;
  orphanGrace?: string;
  utc?: boolean;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** A keep count: a whole number, or 'unlimited' (-1). */
function count(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v === 'unlimited') return -1;
  if (!/^\d+$/.test(v)) throw new OcvaultError('Usage', `--${flag} needs a whole number or 'unlimited', not ${JSON.stringify(v)}`);
  return Number(v);
}

export function policyFromFlags(f: ForgetFlags): KeepPolicy {
  const dur = (v: string | undefined): ReturnType<typeof parseKeepDuration> | undefined => (v === undefined ? undefined : parseKeepDuration(v));
  return {
    last: count('keep-last', f.keepLast),
    hourly: count('keep-hourly', f.keepHourly),
    daily: count('keep-daily', f.keepDaily),
    weekly: count('keep-weekly', f.keepWeekly),
    monthly: count('keep-monthly', f.keepMonthly),
    yearly: count('keep-yearly', f.keepYearly),
    within: dur(f.keepWithin),
    withinHourly: dur(f.keepWithinHourly),
    withinDaily: dur(f.keepWithinDaily),
    withinWeekly: dur(f.keepWithinWeekly),
    withinMonthly: dur(f.keepWithinMonthly),
    withinYearly: dur(f.keepWithinYearly),
    tags: f.keepTag.map((t) => t.split(',').map((x) => x.trim()).filter((x) => x.length > 0)),
  };
}

export function registerForget(program: Command): void {
  program
    .command('forget')
    .description('remove snapshots by a keep policy (per host and paths), or the snapshots named')
    .argument('[snapshot...]', 'snapshots to forget instead of applying a policy')
    .option('--keep-last <n>', 'keep the n newest snapshots')
    .option('--keep-hourly <n>', 'keep the newest snapshot of each of the last n hours that have one')
    .option('--keep-daily <n>', 'keep the newest snapshot of each of the last n days that have one')
    .option('--keep-weekly <n>', 'keep the newest snapshot of each of the last n weeks that have one')
    .option('--keep-monthly <n>', 'keep the newest snapshot of each of the last n months that have one')
    .option('--keep-yearly <n>', 'keep the newest snapshot of each of the last n years that have one')
    .option('--keep-within <duration>', 'keep every snapshot newer than the newest minus this (e.g. 30d, 1y2m, 12h)')
    .option('--keep-within-hourly <duration>', 'keep hourly snapshots within this duration')
    .option('--keep-within-daily <duration>', 'keep daily snapshots within this duration')
    .option('--keep-within-weekly <duration>', 'keep weekly snapshots within this duration')
    .option('--keep-within-monthly <duration>', 'keep monthly snapshots within this duration')
    .option('--keep-within-yearly <duration>', 'keep yearly snapshots within this duration')
    .option('--keep-tag <tags>', 'keep snapshots carrying all these tags (t1,t2; repeatable)', collect, [])
    .option('--group-by <fields>', 'apply the policy per group of: host, paths, store, tags', 'host,paths')
    .option('--dry-run', 'only show what would be removed')
    .option('--prune', 'prune the repository afterwards')
    .option('--max-unused <limit>', 'with --prune: unused space tolerated before repacking (5%, 100M, unlimited)', '5%')
    .option('--orphan-grace <duration>', 'with --prune: age before an unindexed pack is deleted (e.g. 24h, 0)', '24h')
    .option('--utc', 'count hours, days, weeks, ... in UTC instead of the local time zone')
    .action(async (refs: string[], flags: ForgetFlags, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const policy = policyFromFlags(flags);
      const groupBy = parseGroupBy(flags.groupBy);
      const maxUnused = parseMaxUnused(flags.maxUnused ?? '5%');
      const grace = parseGrace(flags.orphanGrace ?? '24h');
      const { result, pruned } = await withRepository(g, async (repo) => {
        const result = await forget(repo, { policy, groupBy, snapshots: refs, dryRun: flags.dryRun, utc: flags.utc });
        let pruned: PruneResult | undefined;
        if (flags.prune) {
          pruned = await prune(repo, {
            maxUnused,
            orphanGraceMs: grace,
            dryRun: flags.dryRun,
            onProgress: out.progress ? (phase, d, t) => out.status(`prune: ${phase} ${d}${t ? `/${t}` : ''}`) : undefined,
          });
          out.clearStatus();
        }
        return { result, pruned };
      });
      if (out.json) {
        out.printJson({ ...result, ...(pruned ? { prune: pruned } : {}) });
        return;
      }
      printForget(out, result);
      if (pruned) printPrune(out, pruned);
    });
}

function printForget(out: Output, r: ForgetResult): void {
  out.print(`${r.dryRun ? 'would apply' : 'applied'}: ${r.policy}`);
  for (const g of r.groups) {
    out.print('');
    out.print(`${describeGroup(g.key)}:`);
    const rows = [['ID', 'Time', 'Tags', 'Action', 'Reasons']];
    for (const s of g.snapshots) rows.push([s.id.slice(0, 8), s.time.replace('T', ' ').slice(0, 19), s.tags.join(','), s.keep ? 'keep' : 'remove', s.reasons.join(', ')]);
    out.print(table(rows));
  }
  out.print('');
  out.print(`${r.kept} snapshot(s) kept, ${r.removed.length} ${r.dryRun ? 'would be removed' : 'removed'}`);
}
