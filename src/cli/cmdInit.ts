import type { Command } from 'commander';
import { OcvaultError } from '../errors/OcvaultError.js';
import { Repository } from '../repo/repository.js';
import { CIPHERS, type Cipher } from '../repo/sealer.js';
import { openBackend, output, readPassword, repoLocation, type GlobalOptions } from './context.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create a new repository (encrypted unless --no-encryption)')
    .option('--no-encryption', 'store blobs unencrypted (integrity is still checked by id)')
    .option('--cipher <name>', 'aes-256-gcm or chacha20-poly1305', 'aes-256-gcm')
    .action(async (opts: { encryption: boolean; cipher: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      if (!CIPHERS.includes(opts.cipher as Cipher) || opts.cipher === 'none') throw new OcvaultError('Usage', `unknown cipher ${opts.cipher}`);
      const password = opts.encryption ? readPassword(g) : undefined;
      if (opts.encryption && password === undefined) {
        throw new OcvaultError('NoPassword', 'a password is needed for an encrypted repository (OCVAULT_PASSWORD, OCVAULT_PASSWORD_FILE, --password-file, --password-command), or pass --no-encryption');
      }
      if (opts.encryption && password === '') throw new OcvaultError('Usage', 'the password is empty');
      const backend = await openBackend(repoLocation(g));
      const repo = await Repository.init(backend, { password, cipher: opts.cipher as Cipher, cacheDir: g.cacheDir });
      try {
        if (out.json) out.printJson({ id: repo.config.id, location: backend.location, cipher: repo.config.cipher });
        else out.print(`created repository ${repo.config.id} at ${backend.location} (${repo.config.cipher === 'none' ? 'NOT encrypted' : repo.config.cipher})`);
      } finally {
        await repo.close();
      }
    });
}
