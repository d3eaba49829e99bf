import type { Command } from 'commander';
import { repoStats } from '../ops/repoStats.js';
import { withRepository, output, type GlobalOptions } from './context.js';
import { formatBytes } from './output.js';

export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('repository size, blob counts and deduplication ratio')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const s = await withRepository(g, async (repo) => repoStats(repo));
      if (out.json) {
        out.printJson(s);
        return;
      }
      out.print(`repository ${s.id} at ${s.location} (${s.cipher})`);
      out.print(`snapshots: ${s.snapshots}`);
      out.print(`packs: ${s.packs}, blobs: ${s.blobs} (${s.treeBlobs} trees)`);
      out.print(`stored: ${formatBytes(s.storedBytes)} for ${formatBytes(s.rawBytes)} of unique data; snapshots cover ${formatBytes(s.snapshotBytes)} (${s.ratio.toFixed(1)}x)`);
    });
}
