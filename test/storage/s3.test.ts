import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backendConformance } from './conformance.js';
import { S3Backend } from '../../src/storage/S3Backend.js';
import { RetryBackend } from '../../src/storage/RetryBackend.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';
import { S3Server } from '../helpers/s3server.js';

const s3 = await S3Server.start();
after(() => s3.dispose());

let n = 0;
// s3rver's folder store sometimes answers InternalError to deletes racing in one folder; a
// RetryBackend (as every remote gets from backendFromUrl) rides over it, as it would over AWS's.
backendConformance('s3', async () => new RetryBackend(new S3Backend(s3.options(`conf-${n++}`, 'repos/one')), { baseDelayMs: 20 }));

describe('s3 specifics', () => {
  test('a bucket that does not exist is created by create(); the prefix keeps repositories apart', async () => {
    const a = new S3Backend(s3.options('shared', 'a'));
    const b = new S3Backend(s3.options('shared', 'b/deeper'));
    await a.create();
    await b.create();
    await a.save('snapshots', 'x', Buffer.from('from a'));
    assert.deepEqual(await b.list('snapshots'), []);
    assert.equal((await a.load('snapshots', 'x')).toString(), 'from a');
  });

  test('unknown keys are refused clearly, as a permanent error', async () => {
    const bad = new S3Backend({ ...s3.options('shared', 'a'), credentials: async () => ({ accessKeyId: 'NOSUCHKEY', secretAccessKey: 'wrong' }) });
    await assert.rejects(bad.list('snapshots'), (e: unknown) => e instanceof OcvaultError && /access denied/.test(e.message) && e.data.transient === false);
  });

  test('a stopped server is a transient error; the same backend works once it is back', async () => {
    const b = new S3Backend(s3.options('restart'));
    await b.create();
    await b.save('keys', 'k', Buffer.from('key'));
    await s3.stop();
    try {
      await assert.rejects(b.load('keys', 'k'), (e: unknown) => e instanceof OcvaultError && e.code === 'StorageError' && e.data.transient === true);
    } finally {
      await s3.start();
    }
    assert.equal((await b.load('keys', 'k')).toString(), 'key');
  });
});
