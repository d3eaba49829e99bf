import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EMPTY_SHA256, canonicalQuery, encodeKeyPath, signV4 } from '../../src/storage/s3Signer.js';
import { parseIni } from '../../src/storage/s3Credentials.js';

// The worked examples of AWS's "Signature Version 4: authenticating requests (AWS signature
// version 4) - header-based auth" page: our signer must produce their signatures exactly
// (s3rver, the test server, does not check V4 signatures).
const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const date = new Date('2013-05-24T00:00:00Z');
const host = 'examplebucket.s3.amazonaws.com';
const sig = (auth: string | undefined): string => /Signature=([0-9a-f]{64})$/.exec(auth ?? '')![1]!;

test('sigv4: GET object with a range (AWS example)', () => {
  const h = signV4({ method: 'GET', path: '/test.txt', query: '', headers: { host, range: 'bytes=0-9' }, payloadHash: EMPTY_SHA256, region: 'us-east-1', credentials, date });
  assert.equal(sig(h.authorization), 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  assert.equal(h['x-amz-date'], '20130524T000000Z');
});

test('sigv4: PUT object with an encoded key (AWS example)', () => {
  const payloadHash = createHash('sha256').update('Welcome to Amazon S3.').digest('hex');
  const h = signV4({
    method: 'PUT',
    path: '/' + encodeKeyPath('test$file.text'),
    query: '',
    headers: { host, date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' },
    payloadHash,
    region: 'us-east-1',
    credentials,
    date,
  });
  assert.equal(sig(h.authorization), '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
});

test('sigv4: GET bucket listing with a query (AWS example)', () => {
  const query = canonicalQuery([['prefix', 'J'], ['max-keys', '2']]);
  assert.equal(query, 'max-keys=2&prefix=J');
  const h = signV4({ method: 'GET', path: '/', query, headers: { host }, payloadHash: EMPTY_SHA256, region: 'us-east-1', credentials, date });
  assert.equal(sig(h.authorization), '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
});

test('sigv4: a session token is sent and signed', () => {
  const h = signV4({ method: 'GET', path: '/x', query: '', headers: { host }, payloadHash: EMPTY_SHA256, region: 'eu-west-1', credentials: { ...credentials, sessionToken: 'tok' }, date });
  assert.equal(h['x-amz-security-token'], 'tok');
  assert.match(h.authorization!, /SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/);
  assert.match(h.authorization!, /\/20130524\/eu-west-1\/s3\/aws4_request/);
});

test('aws ini files: sections, comments, profiles', () => {
  const ini = parseIni('# c\n[default]\naws_access_key_id = A\n; c\n[profile work]\nregion=eu-central-1\n  aws_secret_access_key =  S  \n');
  assert.deepEqual(ini.get('default'), { aws_access_key_id: 'A' });
  assert.deepEqual(ini.get('profile work'), { region: 'eu-central-1', aws_secret_access_key: 'S' });
});
