import type { Command } from 'commander';
import { repairSnapshots, type RepairSnapshotsResult } from '../ops/repairSnapshots.js';
import { output, type GlobalOptions } from './context.js';
import { withTolerantRepository } from './tolerantRepository.js';
import type { Output } from './output.js';

/** `repair snapshots`, registered under `repair` by cmdRepair. */
export function registerRepairSnapshots(repair: Command): void {
  repair
    .command('snapshots')
    .description('salvage snapshots that reference lost data: new snapshots (tag repaired) without what is lost')
    .argument('[snapshot...]', 'only these snapshots (default: all)')
    .option('--forget', 'remove the originals once repaired (and snapshot objects that cannot be read at all)')
    .option('--read-data', 'read every pack first, so stored but damaged data counts as lost too')
    .option('--dry-run', 'only show what would be done')
    .action(async (refs: string[], flags: { forget?: boolean; readData?: boolean; dryRun?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const r = await withTolerantRepository(g, (repo, backend) =>
        repairSnapshots(repo, { snapshots: refs, forget: flags.forget, readData: flags.readData, dryRun: flags.dryRun, backend }),
      );
      if (out.json) out.printJson(r);
      else printRepair(out, r);
    });
}

function printRepair(out: Output, r: RepairSnapshotsResult): void {
  for (const s of r.repaired) {
    const outcome = s.alreadyRepaired ? `was repaired before (as ${s.alreadyRepaired.slice(0, 8)})` : r.dryRun ? 'would be repaired' : s.repaired ? `repaired as ${s.repaired.slice(0, 8)}` : 'had nothing left to salvage';
    out.print(`snapshot ${s.original.slice(0, 8)} (${s.time.replace('T', ' ').slice(0, 19)}) ${outcome}${s.forgotten ? '; original removed' : ''}:`);
    for (const c of s.changes) out.print(`  ${c.path}: ${c.what}`);
  }
  for (const u of r.unreadable) out.print(`snapshot object ${u.id.slice(0, 8)} cannot be read (${u.message})${u.removed ? '; removed' : '; use --forget to remove it'}`);
  out.print(`${r.checked} snapshot(s) checked, ${r.repaired.length} damaged${r.unreadable.length ? `, ${r.unreadable.length} unreadable` : ''}`);
}
