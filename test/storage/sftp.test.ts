import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { backendConformance } from './conformance.js';
import { SftpBackend } from '../../src/storage/SftpBackend.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';
import { SshServer } from '../helpers/sshd.js';

const sshd = SshServer.available() ? await SshServer.start() : undefined;
after(() => sshd?.dispose());

if (!sshd) {
  test('sftp: skipped, no OpenSSH server installed (apt-get install openssh-server)', { skip: true }, () => undefined);
} else {
  let n = 0;
  backendConformance(
    'sftp',
    async () => new SftpBackend(sshd.options(`conf-${n++}`)),
    async (b) => rm(sshd.options(String((b as SftpBackend).location.split("/").pop())).path, { recursive: true, force: true }),
  );

  describe('sftp specifics', () => {
    const isCode = (code: string, re?: RegExp) => (e: unknown) => e instanceof OcvaultError && e.code === code && (!re || re.test(e.message));
    let dir: string;
    before(() => {
      dir = `spec-${randomBytes(4).toString('hex')}`;
    });

    test('an unknown host key is refused with its fingerprint and how to accept it', async () => {
      const b = new SftpBackend({ ...sshd.options(dir), knownHostsFiles: [] });
      try {
        await assert.rejects(b.list('snapshots'), isCode('StorageError', new RegExp(`not known.*${sshd.hostFingerprint.replace(/[+/]/g, '.')}.*OCVAULT_SFTP_FINGERPRINT`)));
      } finally {
        await b.close();
      }
    });

    test('a given fingerprint is accepted without known_hosts; a wrong one is refused', async () => {
      const ok = new SftpBackend({ ...sshd.options(dir), knownHostsFiles: [], fingerprints: [sshd.hostFingerprint] });
      const bad = new SftpBackend({ ...sshd.options(dir), knownHostsFiles: [], fingerprints: ['SHA256:' + 'A'.repeat(43)] });
      try {
        assert.deepEqual(await ok.list('snapshots'), []);
        await assert.rejects(bad.list('snapshots'), isCode('StorageError', /matches neither/));
      } finally {
        await ok.close();
        await bad.close();
      }
    });

    test('a changed host key is refused as a possible attack', async () => {
      const { writeFile } = await import('node:fs/promises');
      const kh = path.join(sshd.dir, 'known_hosts_changed');
      await writeFile(kh, `[127.0.0.1]:${sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv3d2l0aG91dGFueXJlYWxrZXltYXRlcmlhbGhlcmUx\n`);
      const b = new SftpBackend({ ...sshd.options(dir), knownHostsFiles: [kh] });
      try {
        await assert.rejects(b.list('snapshots'), isCode('StorageError', /CHANGED/));
      } finally {
        await b.close();
      }
    });

    test('a key the server does not accept fails the login clearly, without retries', async () => {
      const b = new SftpBackend({ ...sshd.options(dir), keyFiles: [{ file: path.join(sshd.dir, 'host_ed25519'), required: true }] });
      try {
        await assert.rejects(b.list('snapshots'), (e: unknown) => e instanceof OcvaultError && /login .* failed/.test(e.message) && e.data.transient === false);
      } finally {
        await b.close();
      }
    });

    test('stale temporary uploads are removed, fresh ones kept', async () => {
      const { writeFile, utimes } = await import('node:fs/promises');
      const b = new SftpBackend(sshd.options(dir + '-stale'));
      try {
        await b.create();
        const tmp = path.join(sshd.root, dir + '-stale', 'tmp');
        await writeFile(path.join(tmp, 'old.1.tmp'), 'x');
        await utimes(path.join(tmp, 'old.1.tmp'), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
        await writeFile(path.join(tmp, 'new.2.tmp'), 'y');
        await b.removeStaleTemporaries(600_000);
        assert.deepEqual(await readdir(tmp), ['new.2.tmp']);
      } finally {
        await b.close();
      }
    });

    test('uploads leave nothing in tmp/, and the connection comes back after the server restarts', async () => {
      const b = new SftpBackend(sshd.options(dir + '-restart'));
      try {
        await b.create();
        await b.save('snapshots', 'a', Buffer.from('one'));
        assert.deepEqual(await readdir(path.join(sshd.root, dir + '-restart', 'tmp')), []);
        await sshd.stop();
        await assert.rejects(b.load('snapshots', 'a'), (e: unknown) => e instanceof OcvaultError && e.code === 'StorageError' && e.data.transient === true);
        await sshd.start();
        assert.equal((await b.load('snapshots', 'a')).toString(), 'one');
      } finally {
        await b.close();
        await sshd.start();
      }
    });
  });
}
