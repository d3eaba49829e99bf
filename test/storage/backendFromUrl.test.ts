import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendFromUrl, parseRepositoryUrl } from '../../src/storage/backendFromUrl.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';

const usage = (e: unknown): boolean => e instanceof OcvaultError && e.code === 'Usage';

test('paths and file:// are local', async () => {
  assert.deepEqual(parseRepositoryUrl('/srv/backup'), { kind: 'local', path: '/srv/backup' });
  assert.deepEqual(parseRepositoryUrl('relative/repo'), { kind: 'local', path: 'relative/repo' });
  assert.deepEqual(parseRepositoryUrl('file:///srv/my%20repo'), { kind: 'local', path: '/srv/my repo' });
  assert.equal((await backendFromUrl('/srv/backup')).location, '/srv/backup');
});

test('sftp URLs: user, host, port, absolute and home-relative paths, fingerprints', async () => {
  assert.deepEqual(parseRepositoryUrl('sftp://backup@example.org:2222/srv/repo/'), { kind: 'sftp', user: 'backup', host: 'example.org', port: 2222, path: '/srv/repo', fingerprints: [] });
  assert.deepEqual(parseRepositoryUrl('sftp://h/~/shop'), { kind: 'sftp', user: undefined, host: 'h', port: 22, path: 'shop', fingerprints: [] });
  assert.deepEqual(parseRepositoryUrl('sftp://u@[::1]/r?fingerprint=SHA256:abc'), { kind: 'sftp', user: 'u', host: '::1', port: 22, path: '/r', fingerprints: ['SHA256:abc'] });
  assert.throws(() => parseRepositoryUrl('sftp://u:secret@h/r'), (e: unknown) => usage(e) && /OCVAULT_SFTP_PASSWORD/.test((e as Error).message));
  assert.throws(() => parseRepositoryUrl('sftp://u@h'), usage);
  assert.equal((await backendFromUrl('sftp://u@h:2222/srv/r', { env: { HOME: '/nonexistent' } })).location, 'sftp://u@h:2222/srv/r');
});

test('s3 URLs: bucket, prefix, plain http, region and path style', async () => {
  assert.deepEqual(parseRepositoryUrl('s3://s3.eu-west-1.amazonaws.com/bucket/shop/daily'), {
    kind: 's3', protocol: 'https:', host: 's3.eu-west-1.amazonaws.com', port: undefined, bucket: 'bucket', prefix: 'shop/daily/', region: undefined, pathStyle: undefined,
  });
  assert.deepEqual(parseRepositoryUrl('s3+http://127.0.0.1:9000/b?region=us-west-2&path-style=false'), {
    kind: 's3', protocol: 'http:', host: '127.0.0.1', port: 9000, bucket: 'b', prefix: '', region: 'us-west-2', pathStyle: false,
  });
  assert.throws(() => parseRepositoryUrl('s3://host'), usage);
  assert.throws(() => parseRepositoryUrl('s3://key:secret@host/b'), usage);
  assert.throws(() => parseRepositoryUrl('s3://host/b?path-style=maybe'), usage);
  assert.equal((await backendFromUrl('s3://minio.lan:9000/b/p')).location, 's3://minio.lan:9000/b/p');
});

test('rclone locations and unknown schemes', async () => {
  assert.deepEqual(parseRepositoryUrl('rclone:gdrive:backups/shop'), { kind: 'rclone', fs: 'gdrive:backups/shop' });
  assert.deepEqual(parseRepositoryUrl('rclone::local:/tmp/x'), { kind: 'rclone', fs: ':local:/tmp/x' });
  assert.throws(() => parseRepositoryUrl('rclone:nocolon'), usage);
  assert.throws(() => parseRepositoryUrl('ftp://h/x'), (e: unknown) => usage(e) && /unknown scheme ftp/.test((e as Error).message));
  await assert.rejects(backendFromUrl('rclone:r:x', { env: { OCVAULT_STORAGE_RETRIES: 'many' } }), usage);
});
