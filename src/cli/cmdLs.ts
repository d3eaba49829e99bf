import type { Command } from 'commander';
import { listFiles } from '../ops/listFiles.js';
import { withRepository, output, type GlobalOptions } from './context.js';
import { printablePath } from '../sources/files/printable.js';

const KIND: Record<string, string> = { dir: 'd', symlink: 'l', file: '-', fifo: 'p', chardev: 'c', blockdev: 'b' };

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
        const kind = KIND[n.type] ?? '?';
        // names are escaped so a newline or stray byte in one cannot split or forge a line
        const name = printablePath(n.pathRaw !== undefined ? Buffer.from(n.pathRaw, 'base64') : n.path);
        const target = n.target === undefined ? '' : ` -> ${printablePath(n.targetRaw !== undefined ? Buffer.from(n.targetRaw, 'base64') : n.target)}`;
        out.print(`${kind}${mode} ${String(n.size).padStart(12)} ${n.mtime.slice(0, 19).replace('T', ' ')} ${name}${target}`);
      }
    });
}
