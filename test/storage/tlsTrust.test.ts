/**
 * A repository on an S3 store behind a private certificate authority, through the `ocvault`
 * launcher: NODE_EXTRA_CA_CERTS is trusted although the launcher defers it past node's start
 * (src/storage/tlsTrust.ts), a store it does not vouch for is refused with one clear line, and
 * child processes get the variable back under its own name.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describeRun, makeTempDir, oneLine, runOcvault, type RunOptions } from '../helpers/cli.js';
import { S3Server } from '../helpers/s3server.js';
import { removeTree } from '../helpers/tree.js';

const work = await makeTempDir('ocv-tls-');
const key = path.join(work, 'key.pem');
const cert = path.join(work, 'cert.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
const s3 = await S3Server.start({ key, cert });
after(async () => {
  await s3.dispose();
  await removeTree(work);
});

function opts(sub: string, env: Record<string, string | undefined>): RunOptions {
  return {
    env: {
      ...s3.env(),
      OCVAULT_REPOSITORY: s3.url('tls', sub),
      OCVAULT_PASSWORD: 'tls-test-password',
      OCVAULT_CACHE_DIR: path.join(work, `cache-${sub}`),
      OCVAULT_STORAGE_RETRIES: '0',
      NODE_EXTRA_CA_CERTS: undefined,
      ...env,
    },
  };
}

test('an S3 store with a private CA: NODE_EXTRA_CA_CERTS is trusted through the launcher, and children get it back', async () => {
  const seen = path.join(work, 'seen-by-child');
  const o = opts('trusted', { NODE_EXTRA_CA_CERTS: cert });
  const init = await runOcvault(['init'], o);
  assert.equal(init.code, 0, describeRun(init));
  await fsp.mkdir(path.join(work, 'src'), { recursive: true });
  await fsp.writeFile(path.join(work, 'src', 'a.txt'), 'over TLS\n');
  // the password command is a child process: it records what it was given
  const passwordCommand = `sh -c 'printf %s "$NODE_EXTRA_CA_CERTS" > ${seen}; echo tls-test-password'`;
  const b = await runOcvault(['--password-command', passwordCommand, 'backup', path.join(work, 'src'), '--quiet'], { env: { ...o.env, OCVAULT_PASSWORD: undefined } });
  assert.equal(b.code, 0, describeRun(b));
  assert.equal(await fsp.readFile(seen, 'utf8'), cert);
  const r = await runOcvault(['restore', 'latest', '--target', path.join(work, 'restored')], o);
  assert.equal(r.code, 0, describeRun(r));
  assert.equal(await fsp.readFile(path.join(work, 'restored', 'a.txt'), 'utf8'), 'over TLS\n');
});

test('an S3 store whose certificate nobody vouches for is refused with one line, exit 1', async () => {
  const r = await runOcvault(['init'], opts('untrusted', {}));
  assert.equal(r.code, 1, describeRun(r));
  assert.match(oneLine(r), /cert|CERT/);
});
