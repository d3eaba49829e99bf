import type { Command } from 'commander';
import { removeLocks } from '../repo/repoLock.js';
import { openBackend, readPassword, repoLocation, output, type GlobalOptions } from './context.js';
import { Repository } from '../repo/repository.js';

export function registerUnlock(program: Command): void {
  program
    .command('unlock')
    .description('remove stale locks (of dead processes, or not refreshed for 30 minutes)')
    .option('--remove-all', 'remove every lock, also live and unreadable ones: only when no other ocvault uses the repository')
    .action(async (opts: { removeAll?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const repo = await Repository.open(await openBackend(repoLocation(g)), { password: readPassword(g), cacheDir: g.cacheDir });
      try {
        const removed = await removeLocks(repo.backend, repo.sealer, opts.removeAll === true);
        if (out.json) out.printJson({ removed });
        else out.print(removed.length ? `removed ${removed.length} lock(s)` : 'no stale locks');
      } finally {
        await repo.close();
      }
    });
}
