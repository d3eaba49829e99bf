import type { Command } from 'commander';
import { withRepository, output, type GlobalOptions } from './context.js';
import { formatBytes, table } from './output.js';
import { printablePath } from '../sources/files/printable.js';

export function registerSnapshots(program: Command): void {
  program
    .command('snapshots')
    .description('list snapshots, oldest first')
    .option('--tag <tag>', 'only snapshots with this tag')
    .option('--store <name>', 'only snapshots of this OpenCart store')
    .action(async (opts: { tag?: string; store?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const list = await withRepository(g, async (repo) => repo.snapshots());
      const shown = list.filter((s) => (!opts.tag || s.snapshot.tags.includes(opts.tag)) && (opts.store === undefined || s.snapshot.store === opts.store));
      if (out.json) {
        out.printJson(
          shown.map(({ id, snapshot: s }) => ({
            id,
            shortId: id.slice(0, 8),
            time: s.time,
            host: s.host,
            kind: s.kind,
            parent: s.parent ?? null,
            tags: s.tags,
            paths: s.paths,
            store: s.store ?? null,
            addedBytes: s.stats.addedBytes,
            stats: s.stats,
            database: s.databaseStats ?? null,
          })),
        );
        return;
      }
      const rows = [['ID', 'Time', 'Kind', 'Host', 'Tags', 'Size', 'Added', 'Paths']];
      for (const { id, snapshot: s } of shown) {
        rows.push([id.slice(0, 8), s.time.replace('T', ' ').slice(0, 19), s.kind, s.host, s.tags.join(','), formatBytes(s.stats.bytes), formatBytes(s.stats.addedBytes), s.paths.map((p) => printablePath(p)).join(' ')]);
      }
      out.print(table(rows));
      out.print(`${shown.length} snapshot(s)`);
    });
}
