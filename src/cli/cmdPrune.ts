import type { Command } from 'commander';
import { OcvaultError } from '../errors/OcvaultError.js';
import { prune, type PruneResult } from '../ops/prune.js';
import { parseMaxUnused } from '../ops/prunePlan.js';
import { withRepository, output, type GlobalOptions } from './context.js';
import { formatBytes, formatDuration, type Output } from './output.js';

/** `24h`, `2d`, `90m` (minutes here), `0`: milliseconds. */
export function parseGrace(text: string): number {
  const m = /^(\d+)([dhms]?)$/.exec(text.trim());
  if (!m) throw new OcvaultError('Usage', `invalid --orphan-grace ${JSON.stringify(text)}: use e.g. 24h, 2d, 90m or 0`);
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, '': 3_600_000 }[m[2] as 'd' | 'h' | 'm' | 's' | ''];
  return Number(m[1]) * unit;
}

export function registerPrune(program: Command): void {
  program
    .command('prune')
    .description('delete data no snapshot uses, repack mostly unused packs, rewrite the index')
    .option('--max-unused <limit>', 'unused space tolerated before repacking: a share of the repository (5%), a size (100M) or unlimited', '5%')
    .option('--orphan-grace <duration>', 'delete a pack that no index lists once unindexed this long (e.g. 24h, 2d, 0)', '24h')
    .option('--dry-run', 'only show what would be done')
    .action(async (flags: { maxUnused: string; orphanGrace: string; dryRun?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const maxUnused = parseMaxUnused(flags.maxUnused);
      const grace = parseGrace(flags.orphanGrace);
      const r = await withRepository(g, (repo) =>
        prune(repo, {
          maxUnused,
          orphanGraceMs: grace,
          dryRun: flags.dryRun,
          onProgress: out.progress ? (phase, d, t) => out.status(`${phase} ${d}${t ? `/${t}` : ''}`) : undefined,
        }),
      );
      out.clearStatus();
      if (out.json) out.printJson(r);
      else printPrune(out, r);
    });
}

export function printPrune(out: Output, r: PruneResult): void {
  const would = r.dryRun ? 'would be ' : '';
  out.print(`${r.snapshots} snapshot(s) use ${r.blobs.used} blob(s); ${r.blobs.unused} blob(s) are unused (${formatBytes(r.bytes.unusedBefore)} of ${formatBytes(r.bytes.before)})`);
  out.print(`packs: ${r.packs.deleted} ${would}deleted, ${r.packs.repacked} ${would}repacked (${formatBytes(r.bytes.repacked)} copied${r.dryRun ? '' : ` into ${r.packs.written} new pack(s)`})${r.packs.droppedFromIndex ? `, ${r.packs.droppedFromIndex} missing unused pack(s) ${would}dropped from the index` : ''}`);
  for (const o of r.orphans) out.print(`pack ${o.id} ${o.action === 'delete' ? `${would}deleted` : 'kept'}: ${o.reason}`);
  out.print(`${r.dryRun ? 'would free' : 'freed'} ${formatBytes(r.bytes.freed)}: ${formatBytes(r.bytes.before)} → ${formatBytes(r.bytes.after)}; ${formatBytes(r.bytes.unusedAfter)} unused left${r.dryRun ? '' : ` (${formatDuration(r.durationMs)})`}`);
}
