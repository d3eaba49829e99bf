import type { Command } from 'commander';
import { listFiles } from '../ops/listFiles.js';
import { withRepository, output, type GlobalOptions } from './context.js';

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('list the files of a snapshot')
    .argument('<snapshot>', "snapshot id, unique prefix, or 'latest'")
    .argument('[path]', 'only below this path')
    .action(async (ref: string, prefix: string | undefined, _opts: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const { nodes } = await withRepository(g, (repo) => listFiles(repo, ref, prefix));
      if (out.json) {
        out.printJson(nodes);
        return;
      }
      for (const n of nodes) {
        const mode = n.mode.toString(8).padStart(4, '0');
        const kind = n.type === 'dir' ? 'd' : n.type === 'symlink' ? 'l' : '-';
        out.print(`${kind}${mode} ${String(n.size).padStart(12)} ${n.mtime.slice(0, 19).replace('T', ' ')} ${n.path}${n.target !== undefined ? ` -> ${n.target}` : ''}`);
      }
    });
}
