import type { Command } from 'commander';
import { repairIndex } from '../ops/repairIndex.js';
import { output, type GlobalOptions } from './context.js';
import { withTolerantRepository } from './tolerantRepository.js';
import { registerRepairSnapshots } from './cmdRepairSnapshots.js';

export function registerRepair(program: Command): void {
  const repair = program.command('repair').description('repair parts of a repository');
  repair
    .command('index')
    .description('rebuild the index segments from the pack headers')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const r = await withTolerantRepository(g, (repo, backend, skipped) => {
        for (const s of skipped) out.warn(`${s.type}/${s.name} is damaged and will be replaced: ${s.message}`);
        return repairIndex(repo, (pack, why, kept) => out.warn(kept ? `pack ${pack} is damaged (${why}); its blobs stay indexed as the old index listed them ('ocvault check --read-data' tells which are intact)` : `pack ${pack} skipped: ${why}`), backend);
      });
      if (out.json) out.printJson(r);
      else out.print(`index rebuilt from ${r.packs} packs (${r.blobs} blobs); ${r.segmentsRemoved} old segment(s) replaced${r.damagedPacks.length ? `; ${r.damagedPacks.length} damaged pack(s) skipped` : ''}`);
      if (r.damagedPacks.length) process.exitCode = 1;
    });
  registerRepairSnapshots(repair);
}
