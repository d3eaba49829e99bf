import type { Command } from 'commander';
import { restore } from '../ops/restore.js';
import { withRepository, output, type GlobalOptions } from './context.js';
import { formatBytes } from './output.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function registerRestore(program: Command): void {
  program
    .command('restore')
    .description('restore a snapshot into a directory')
    .argument('<snapshot>', "snapshot id, unique prefix, or 'latest'")
    .requiredOption('--target <dir>', 'where to put the files')
    .option('--include <glob>', 'restore only matching paths (repeatable)', collect, [])
    .action(async (ref: string, opts: { target: string; include: string[] }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const result = await withRepository(g, (repo) =>
        restore(repo, {
          snapshot: ref,
          target: opts.target,
          includes: opts.include,
          onProgress: out.progress ? (p, total) => out.status(`${p.files} files, ${formatBytes(p.bytes)} of ${formatBytes(total)}`) : undefined,
        }),
      );
      out.clearStatus();
      const p = result.progress;
      if (out.json) out.printJson({ id: result.id, target: opts.target, ...p });
      else out.print(`restored snapshot ${result.id.slice(0, 8)} to ${opts.target}: ${p.files} files, ${p.dirs} dirs, ${p.symlinks} links, ${formatBytes(p.bytes)}`);
    });
}
