/**
 * The engine on real remote stores, through the `ocvault` binary with `-r URL`: a backup and a
 * byte-exact restore from an empty cache (a new machine: only the address and the password),
 * and a backup cut off by the server dying (killed from a hook as the second pack upload
 * starts, through the same retry/limit stack the CLI uses), which fails with one clear error
 * and is completed by the next run.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expectCode, makeTempDir, parseJson, runOcvault, type BackupResult, type RunOptions } from '../helpers/cli.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';
import { Repository } from '../../src/repo/repository.js';
import { backup } from '../../src/ops/backup.js';
import { backendFromUrl } from '../../src/storage/backendFromUrl.js';
import { FaultBackend } from '../../src/storage/FaultBackend.js';
import { buildFixtureTree, compareTrees, MiB, removeTree, writeRandomFile } from '../helpers/tree.js';
import { SshServer } from '../helpers/sshd.js';
import { S3Server } from '../helpers/s3server.js';
import { rcloneAvailable, rcloneLocalEnv, rcloneSftpEnv } from '../helpers/rclone.js';

const work = await makeTempDir('ocv-remote-');
const sshd = SshServer.available() ? await SshServer.start() : undefined;
const s3 = await S3Server.start();
const rclone = rcloneAvailable();
after(async () => {
  await sshd?.dispose();
  await s3.dispose();
  await removeTree(work);
});

interface Remote {
  name: string;
  url: (sub: string) => string;
  env: Record<string, string>;
  stop?: () => Promise<void>;
  start?: () => Promise<void>;
}

const remotes: Remote[] = [];
if (sshd) {
  remotes.push({ name: 'sftp', url: (s) => sshd.url(s), env: sshd.env(), stop: () => sshd.stop(), start: () => sshd.start() });
}
remotes.push({ name: 's3', url: (s) => s3.url('repos', s), env: s3.env(), stop: () => s3.stop(), start: () => s3.start() });
if (rclone) {
  remotes.push({ name: 'rclone (local remote)', url: (s) => `rclone:ocvlocal:${path.join(work, 'rclone-local', s)}`, env: rcloneLocalEnv() });
  if (sshd) {
    remotes.push({
      name: 'rclone (sftp remote)',
      url: (s) => `rclone:ocvsftp:${path.join(sshd.root, 'rclone', s)}`,
      env: rcloneSftpEnv(sshd),
    });
  }
}

const PASSWORD = 'remote-test-password';
let runs = 0;

/** The environment for ocvault on a repository URL, with a cache of its own (a fresh one unless given). */
function ocv(url: string, r: Remote, cache?: string, opts: RunOptions = {}) {
  const home = path.join(work, 'home');
  const env = {
    ...r.env,
    OCVAULT_REPOSITORY: url,
    OCVAULT_PASSWORD: PASSWORD,
    OCVAULT_CACHE_DIR: cache ?? path.join(work, `cache-${runs++}`),
    HOME: home,
    XDG_CACHE_HOME: home,
    OCVAULT_STORAGE_RETRIES: '2',
    OCVAULT_STORAGE_RETRY_DELAY_MS: '100',
    ...(opts.env ?? {}),
  };
  return { env, opts: { ...opts, env } };
}

async function run(url: string, r: Remote, args: string[], cache?: string, opts: RunOptions = {}) {
  return runOcvault(args, ocv(url, r, cache, opts).opts);
}

for (const r of remotes) {
  describe(`remote repository: ${r.name}`, () => {
    const sub = r.name.replace(/[^a-z]+/g, '-');

    test('init, backup, then restore from an empty cache is byte-exact', { timeout: 120_000 }, async () => {
      const url = r.url(`${sub}-roundtrip`);
      const src = path.join(work, `${sub}-src`);
      await buildFixtureTree(src, { randomSize: 2 * MiB + 333 });
      expectCode(await run(url, r, ['init']), 0);
      const cache = path.join(work, `${sub}-cache`);
      const b = parseJson<BackupResult>(expectCode(await run(url, r, ['backup', src, '--json'], cache), 0));
      // an incremental reads the snapshot list and index from the cache and adds almost nothing
      const again = parseJson<BackupResult>(expectCode(await run(url, r, ['backup', src, '--json'], cache), 0));
      assert.ok(again.stats.addedBytes < 4096, `second backup added ${again.stats.addedBytes} bytes`);
      const target = path.join(work, `${sub}-restored`);
      expectCode(await run(url, r, ['restore', b.id, '--target', target]), 0);
      await compareTrees(src, target);
    });

    if (r.stop && r.start) {
      test('the server dying mid-backup is one clear error; the next run completes and restores exactly', { timeout: 150_000 }, async () => {
        const name = `${sub}-crash`;
        const url = r.url(name);
        const src = path.join(work, `${sub}-big`);
        await fsp.mkdir(src, { recursive: true });
        for (let i = 0; i < 2; i++) await writeRandomFile(path.join(src, `part-${i}.bin`), 9 * MiB);
        expectCode(await run(url, r, ['init']), 0);
        const cache = path.join(work, `${sub}-crash-cache`);
        // The engine in this process, on the stack the CLI uses (retries, connection limit), with
        // a hook that kills the server just as the second pack upload begins.
        const { env } = ocv(url, r, cache);
        const fault = new FaultBackend(await backendFromUrl(url, { env: { ...process.env, ...env } }));
        fault.inject({ op: 'save', type: 'data', skip: 1, action: () => r.stop!() });
        const repo = await Repository.open(fault, { password: PASSWORD, cacheDir: cache });
        let error: unknown;
        try {
          await backup(repo, { paths: [src], kind: 'incremental', tags: [], excludes: [] });
        } catch (e) {
          error = e;
        } finally {
          await repo.close().catch(() => undefined);
          await r.start!();
        }
        assert.ok(error instanceof OcvaultError, `the backup failed with an OcvaultError, not ${String(error)}`);
        assert.equal(error.code, 'StorageError');
        assert.match(error.message, /^(upload|stat|download|listing|connecting).* on (sftp|s3|s3\+http|rclone):\/?\/?.* failed: /);
        assert.ok(!error.message.includes('\n'), error.message);
        const list = await run(url, r, ['snapshots', '--json'], cache);
        assert.deepEqual(parseJson<unknown[]>(expectCode(list, 0)), [], 'no snapshot from the cut-off run');
        const done = parseJson<BackupResult>(expectCode(await run(url, r, ['backup', src, '--json'], cache), 0));
        const target = path.join(work, `${sub}-crash-restored`);
        expectCode(await run(url, r, ['restore', done.id, '--target', target]), 0);
        await compareTrees(src, target);
      });
    }
  });
}
