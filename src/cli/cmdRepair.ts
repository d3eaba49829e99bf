import type { Command } from 'commander';
import { repairIndex } from '../ops/repairIndex.js';
import { withRepository, output, type GlobalOptions } from './context.js';
import { registerRepairSnapshots } from './cmdRepairSnapshots.js';

export function registerRepair(program: Command): void {
  const repair = program.command('repair').description('repair parts of a repository');
  repair
    .command('index')
    .description('rebuild the index segments from the pack headers')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const r = await withRepository(g, (repo) => repairIndex(repo, (pack, why) => out.warn(`pack ${pack} skipped: ${why}`)));
      if (out.json) out.printJson(r);
      else out.print(`index rebuilt from ${r.packs} packs (${r.blobs} blobs); ${r.segmentsRemoved} old segment(s) replaced${r.damagedPacks.length ? `; ${r.damagedPacks.length} damaged pack(s) skipped` : ''}`);
      if (r.damagedPacks.length) process.exitCode = 1;
    });
  registerRepairSnapshots(repair);
}
