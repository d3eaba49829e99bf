import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { OcvaultError } from '../errors/OcvaultError.js';
import { decodeKeyFile } from '../repo/keyFile.js';
import { withRepository, output, type GlobalOptions } from './context.js';
import { table } from './output.js';

function newPassword(opts: { newPasswordFile?: string }): string {
  let pw: string | undefined;
  if (opts.newPasswordFile) {
    try {
      pw = readFileSync(opts.newPasswordFile, 'utf8').replace(/\r?\n.*$/s, '');
    } catch (e) {
      throw new OcvaultError('Usage', `cannot read ${opts.newPasswordFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else pw = process.env.OCVAULT_NEW_PASSWORD;
  if (pw === undefined) throw new OcvaultError('Usage', 'give the new password with --new-password-file or OCVAULT_NEW_PASSWORD');
  if (pw === '') throw new OcvaultError('Usage', 'the new password is empty');
  return pw;
}

export function registerKey(program: Command): void {
  const key = program.command('key').description('manage the passwords that open the repository');
  key
    .command('add')
    .description('add a password')
    .option('--new-password-file <file>', 'read the new password from a file')
    .action(async (opts: { newPasswordFile?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const pw = newPassword(opts);
      const name = await withRepository(g, (repo) => repo.addKey(pw));
      output(g).print(`added key ${name.slice(0, 8)}`);
    });
  key
    .command('passwd')
    .description('change the password used to open the repository')
    .option('--new-password-file <file>', 'read the new password from a file')
    .action(async (opts: { newPasswordFile?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const pw = newPassword(opts);
      const name = await withRepository(g, async (repo) => {
        const added = await repo.addKey(pw);
        await repo.removeKey(repo.keyName);
        return added;
      });
      output(g).print(`password changed (key ${name.slice(0, 8)})`);
    });
  key
    .command('list')
    .description('list the keys')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const keys = await withRepository(g, async (repo) => {
        const infos = await repo.backend.list('keys');
        return Promise.all(
          infos.map(async (i) => {
            const k = decodeKeyFile(await repo.backend.load('keys', i.name), i.name);
            return { id: i.name, current: i.name === repo.keyName, created: k.created, host: k.host, user: k.user };
          }),
        );
      });
      if (out.json) out.printJson(keys);
      else out.print(table([['ID', 'Current', 'Created', 'User@Host'], ...keys.map((k) => [k.id.slice(0, 8), k.current ? '*' : '', k.created, `${k.user}@${k.host}`])]));
    });
}
