import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { makeSealer } from '../../src/repo/sealer.js';
import { blake3 } from '../../src/repo/hash.js';
import { decodePackHeader } from '../../src/repo/pack.js';
import { PackFileWriter, type StagedPack } from '../../src/repo/packFile.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';

test('pack file writer: finished packs are named by their bytes and their headers list every blob where it is', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ocv-packfile-'));
  try {
    const sealer = makeSealer('aes-256-gcm', randomBytes(32));
    const hasher = await blake3();
    const packs: StagedPack[] = [];
    // blobs of ~20 KB and ~400 KB: packs of 1.5 MB fill the 1 MiB staging buffer more than once
    const writer = new PackFileWriter(dir, sealer, await hasher.plainHasher(), 1_500_000, (p) => packs.push(p));
    const blobs = Array.from({ length: 12 }, (_, i) => ({ id: randomBytes(32).toString('hex'), parts: [randomBytes(10), randomBytes(i % 2 ? 20_000 + i : 400_000 + i)] }));
    for (const b of blobs) {
      writer.add(b.id, 'data', b.parts, 123);
      await writer.settle();
    }
    await writer.finish();
    assert.equal(packs.length, 2, '2.5 MB of blobs make a full pack and a last one');
    await writer.finish();
    assert.equal(packs.length, 2, 'nothing open after finish');
    packs.sort((a, b) => blobs.findIndex((x) => x.id === a.blobs[0]!.id) - blobs.findIndex((x) => x.id === b.blobs[0]!.id));
    let at = 0;
    for (const pack of packs) {
      const bytes = await readFile(pack.file);
      assert.equal(bytes.length, pack.size);
      assert.equal(hasher.plain(bytes).toString('hex'), pack.id);
      const entries = decodePackHeader(bytes, bytes.length, sealer, pack.id);
      assert.ok(Array.isArray(entries));
      assert.deepEqual(entries, pack.blobs);
      for (const e of entries) {
        const b = blobs[at++]!;
        assert.equal(e.id, b.id);
        assert.deepEqual(bytes.subarray(e.offset, e.offset + e.length), Buffer.concat(b.parts));
      }
    }
    assert.equal(at, blobs.length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('pack file writer: a folder it cannot write to is a storage error naming the file, and every later add fails too', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ocv-packfile-'));
  try {
    // a "folder" below a plain file cannot be made, even by root
    const blocker = path.join(dir, 'a-file');
    await writeFile(blocker, 'x');
    const writer = new PackFileWriter(path.join(blocker, 'tmp'), makeSealer('aes-256-gcm', randomBytes(32)), await (await blake3()).plainHasher(), 1000, () => undefined);
    const add = (): unknown => writer.add(randomBytes(32).toString('hex'), 'data', [randomBytes(10)], 10);
    assert.throws(add, (e: unknown) => e instanceof OcvaultError && e.code === 'StorageError' && e.message.includes(blocker));
    assert.throws(add, (e: unknown) => e instanceof OcvaultError && e.code === 'StorageError');
    assert.deepEqual(await readdir(dir), ['a-file']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
