import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { backendConformance } from './conformance.js';
import { RcloneBackend } from '../../src/storage/RcloneBackend.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';
import { SshServer } from '../helpers/sshd.js';
import { rcloneAvailable, rcloneLocalEnv, rcloneSftpEnv } from '../helpers/rclone.js';

const haveRclone = rcloneAvailable();
const sshd = haveRclone && SshServer.available() ? await SshServer.start() : undefined;
const base = await mkdtemp(path.join(tmpdir(), 'ocv-rclone-'));
after(async () => {
  await sshd?.dispose();
  await rm(base, { recursive: true, force: true });
});

const rclone = (fs: string): RcloneBackend => new RcloneBackend({ fs, binary: 'rclone', args: [] });

if (!haveRclone) {
  test('rclone: skipped, rclone is not installed (apt-get install rclone)', { skip: true }, () => undefined);
} else {
  Object.assign(process.env, rcloneLocalEnv(), sshd ? rcloneSftpEnv(sshd) : {});
  let n = 0;
  backendConformance('rclone (local remote)', async () => rclone(`ocvlocal:${base}/local-${n++}`));
  if (sshd) backendConformance('rclone (sftp remote)', async () => rclone(`ocvsftp:${sshd.root}/rclone-${n++}`));

  describe('rclone specifics', () => {
    test('uploads go through tmp/ and leave nothing there', async () => {
      const dir = path.join(base, 'tmpcheck');
      const b = rclone(`ocvlocal:${dir}`);
      try {
        await b.create();
        await b.save('data', 'ab' + 'c'.repeat(62), Buffer.alloc(3 * 1024 * 1024, 7));
        assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
        assert.equal((await b.stat('data', 'ab' + 'c'.repeat(62))).size, 3 * 1024 * 1024);
      } finally {
        await b.close();
      }
    });

    test('stale temporary uploads are removed, fresh ones kept', async () => {
      const { mkdir, writeFile, utimes } = await import('node:fs/promises');
      const dir = path.join(base, 'stale');
      const tmp = path.join(dir, 'tmp');
      await mkdir(tmp, { recursive: true });
      await writeFile(path.join(tmp, 'old.1.tmp'), 'x');
      await utimes(path.join(tmp, 'old.1.tmp'), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
      await writeFile(path.join(tmp, 'new.2.tmp'), 'y');
      const b = rclone(`ocvlocal:${dir}`);
      try {
        await b.removeStaleTemporaries(600_000);
        assert.deepEqual(await readdir(tmp), ['new.2.tmp']);
      } finally {
        await b.close();
      }
    });

    test('an unknown remote is a clear, permanent error', async () => {
      const b = rclone('nosuchremote:x');
      try {
        await assert.rejects(b.list('snapshots'), (e: unknown) => e instanceof OcvaultError && /nosuchremote/.test(e.message));
      } finally {
        await b.close();
      }
    });

    test('a missing rclone binary says so', async () => {
      const b = new RcloneBackend({ fs: 'ocvlocal:/tmp/x', binary: '/nonexistent/rclone', args: [] });
      await assert.rejects(b.list('snapshots'), (e: unknown) => e instanceof OcvaultError && /rclone is not installed/.test(e.message));
      await b.close();
    });
  });
}
