import type { Command } from 'commander';
import { OcvaultError } from '../errors/OcvaultError.js';
import { Repository } from '../repo/repository.js';
import { copySnapshots } from '../ops/copy.js';
import { openBackend, output, passwordFrom, withRepository, type GlobalOptions } from './context.js';
import { formatBytes } from './output.js';

interface CopyCliOptions {
  to?: string;
  toPasswordFile?: string;
  toPasswordCommand?: string;
}

/** The target's password: --to-password-file, --to-password-command, OCVAULT_TO_PASSWORD_FILE, OCVAULT_TO_PASSWORD. */
function targetPassword(o: CopyCliOptions): string | undefined {
  return passwordFrom({ file: o.toPasswordFile, command: o.toPasswordCommand, fileEnv: 'OCVAULT_TO_PASSWORD_FILE', env: 'OCVAULT_TO_PASSWORD', errorCode: 'Usage', commandName: 'the target password command' });
}

export function registerCopy(program: Command): void {
  program
    .command('copy')
    .description('copy snapshots (all when none is named) into another repository, skipping those it has')
    .argument('[snapshot...]', "snapshots to copy: ids, prefixes or 'latest'")
    .option('--to <location>', 'the target repository (or OCVAULT_TO_REPOSITORY)')
    .option('--to-password-file <file>', 'read the target password from a file (or OCVAULT_TO_PASSWORD_FILE / OCVAULT_TO_PASSWORD)')
    .option('--to-password-command <cmd>', 'run a command that prints the target password')
    .action(async (refs: string[], opts: CopyCliOptions, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const to = opts.to ?? process.env.OCVAULT_TO_REPOSITORY;
      if (!to) throw new OcvaultError('Usage', 'no target repository: use --to or OCVAULT_TO_REPOSITORY');
      const result = await withRepository(g, async (src) => {
        const backend = await openBackend(to);
        let dst: Repository;
        try {
          dst = await Repository.open(backend, { password: targetPassword(opts), cacheDir: g.cacheDir });
        } catch (e) {
          await backend.close().catch(() => undefined);
          throw e;
        }
        try {
          return await copySnapshots(src, dst, {
            snapshots: refs,
            onSnapshot: (r) => {
              if (out.json) return;
              if (r.skipped) out.print(`snapshot ${r.source.slice(0, 8)} is already in the target as ${r.target.slice(0, 8)}`);
              else out.print(`snapshot ${r.source.slice(0, 8)} copied as ${r.target.slice(0, 8)}: ${formatBytes(r.stats.addedBytes)} added`);
            },
          });
        } finally {
          await dst.close();
        }
      });
      if (out.json) out.printJson(result);
      else out.print(`${result.snapshots.filter((s) => !s.skipped).length} snapshot(s) copied, ${result.snapshots.filter((s) => s.skipped).length} already there`);
    });
}
