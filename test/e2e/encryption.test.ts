import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TestRepo, listFiles } from '../helpers/cli.js';
import { MiB, compareTrees } from '../helpers/tree.js';

/**
 * A tree full of a marker string: in file names, a directory name, the backed-up path itself,
 * compressible text, and (the part that would survive in a plaintext repository) inside an
 * incompressible random file. Returns the byte strings that must never appear in an encrypted
 * repository.
 */
async function markerTree(root: string, marker: string): Promise<Buffer[]> {
  await fsp.mkdir(path.join(root, `dir-${marker}`), { recursive: true });
  await fsp.writeFile(path.join(root, `notes-${marker}.txt`), `${marker}\n`.repeat(2000));
  await fsp.writeFile(path.join(root, `dir-${marker}`, 'inner.txt'), `before ${marker} after\n`);
  await fsp.writeFile(path.join(root, 'plain-name.txt'), `the secret is ${marker}.`);
  // 2 MiB of random bytes with the marker planted every 64 KiB: zstd cannot shrink it, so in a
  // plaintext repository these bytes are stored as they are
  const noise = randomBytes(2 * MiB);
  for (let off = 1000; off + marker.length < noise.length; off += 64 * 1024) noise.write(marker, off, 'latin1');
  await fsp.writeFile(path.join(root, 'noise.bin'), noise);
  // a few 48-byte windows of the random data itself, away from the markers
  const windows = [300_000, 900_000, 1_700_000].map((o) => Buffer.from(noise.subarray(o, o + 48)));
  return [Buffer.from(marker), ...windows];
}

interface Hit {
  file: string;
  what: string;
}

/** Raw-byte scan of every file under the repository for every needle, and of every path for the marker. */
async function scanRepository(repo: string, marker: string, needles: Buffer[]): Promise<{ hits: Hit[]; files: number; bytes: number }> {
  const hits: Hit[] = [];
  let bytes = 0;
  const files = await listFiles(repo);
  for (const f of files) {
    const rel = path.relative(repo, f);
    if (rel.includes(marker)) hits.push({ file: rel, what: 'marker in a repository file name' });
    const data = await fsp.readFile(f);
    bytes += data.length;
    needles.forEach((n, i) => {
      if (data.indexOf(n) >= 0) hits.push({ file: rel, what: i === 0 ? 'marker bytes' : `random window ${i}` });
    });
  }
  return { hits, files: files.length, bytes };
}

describe('encryption: no plaintext in the repository', () => {
  const repos: TestRepo[] = [];
  after(async () => {
    for (const r of repos) await r.cleanup();
  });

  test('an encrypted repository holds no marker bytes, names or random-data windows', async () => {
    const t = await TestRepo.create();
    repos.push(t);
    const marker = `OCVAULT-MARKER-${randomBytes(12).toString('hex')}`;
    const src = t.path(`src-${marker}`);
    await fsp.mkdir(src);
    const needles = await markerTree(src, marker);
    needles.push(Buffer.from(t.password));
    const b = await t.backup([src], ['--tag', marker]);
    assert.ok(b.stats.files === 4);
    const scan = await scanRepository(t.repo, marker, needles);
    assert.ok(scan.files >= 5 && scan.bytes > 2 * MiB, `the scan covered the repository (${scan.files} files, ${scan.bytes} bytes)`);
    assert.deepEqual(scan.hits, [], 'plaintext found in the encrypted repository');
    // and the data is really there: it restores
    const target = await t.restore(b.id, t.path('restore'));
    await compareTrees(src, target);
  });

  for (const cipher of ['aes-256-gcm', 'chacha20-poly1305']) {
    test(`${cipher}: what the native addon sealed restores through node:crypto, and the other way round`, async () => {
      const t = await TestRepo.create({ init: false });
      repos.push(t);
      await t.ok(['init', '--cipher', cipher]);
      const src = t.path('src');
      await fsp.mkdir(src);
      await markerTree(src, 'interop');
      // text zstd shrinks and a PNG-headed file stored raw: both blob encodings
      await fsp.writeFile(path.join(src, 'img.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(300_000)]));
      const native = await t.backup([src]);
      await compareTrees(src, await t.restore(native.id, t.path('by-node'), [], { env: { OCVAULT_NATIVE_AEAD: '0' } }));
      await fsp.writeFile(path.join(src, 'later.bin'), randomBytes(200_000));
      const viaNode = await t.backup([src], [], [0], { env: { OCVAULT_NATIVE_AEAD: '0' } });
      assert.ok(viaNode.stats.addedBytes > 200_000, 'the second backup sealed new blobs');
      await compareTrees(src, await t.restore(viaNode.id, t.path('by-native')));
    });
  }

  test('the same scan does find the plaintext in a --no-encryption repository (the scanner works)', async () => {
    const t = await TestRepo.create({ encryption: false });
    repos.push(t);
    const marker = `OCVAULT-MARKER-${randomBytes(12).toString('hex')}`;
    const src = t.path(`src-${marker}`);
    await fsp.mkdir(src);
    const needles = await markerTree(src, marker);
    const b = await t.backup([src], ['--tag', marker]);
    const scan = await scanRepository(t.repo, marker, needles);
    const kinds = new Set(scan.hits.map((h) => h.what));
    assert.ok(kinds.has('marker bytes'), `marker not found in a plaintext repository: ${JSON.stringify(scan.hits)}`);
    assert.ok(kinds.has('random window 1') && kinds.has('random window 2') && kinds.has('random window 3'), `random data not found: ${JSON.stringify(scan.hits)}`);
    const target = await t.restore(b.id, t.path('restore'));
    await compareTrees(src, target);
    const snaps = await t.snapshots();
    assert.equal(snaps.length, 1);
    assert.deepEqual(snaps[0]!.tags, [marker]);
  });
});
