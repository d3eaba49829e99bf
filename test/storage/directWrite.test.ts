import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants as C } from 'node:fs';
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DIRECT_ALIGN, DIRECT_MIN, SequentialFile } from '../../src/storage/directWrite.js';
import { writeAtSync, writeWhole } from '../../src/repo/fileWrite.js';
import { copyInto } from '../../src/storage/nativeCopy.js';
import { writeBlobs, type BlobWrite } from '../../src/repo/blobWrites.js';
import { nativeAddon } from '../../src/storage/nativeAddon.js';

const STAGE = 1024 * 1024;
/** part sizes around every edge the staging buffer and the block alignment have */
const SIZES = [0, 1, DIRECT_ALIGN - 1, DIRECT_ALIGN, DIRECT_ALIGN + 1, STAGE - 3, STAGE, STAGE + 5, 2 * STAGE + DIRECT_ALIGN, 7];

/** Runs `body` with direct writes on (the default) and off, as the switch sets them. */
async function bothWays(body: (dir: string, direct: boolean) => Promise<void>): Promise<void> {
  for (const direct of [true, false]) {
    const dir = await mkdtemp(path.join(tmpdir(), 'ocv-direct-'));
    if (!direct) process.env.OCVAULT_DIRECT_IO = '0';
    try {
      await body(dir, direct);
    } finally {
      delete process.env.OCVAULT_DIRECT_IO;
      await rm(dir, { recursive: true, force: true });
    }
  }
}

test('sequential file: the bytes appended are the file, whatever the sizes of the parts, staged direct or written plainly', async () => {
  await bothWays(async (dir, direct) => {
    for (const split of [SIZES, [SIZES.reduce((a, b) => a + b, 0)], [DIRECT_ALIGN * 3], [10]]) {
      const parts = split.map((n) => randomBytes(n));
      const file = path.join(dir, `f${split.length}-${split[0]}`);
      // what the observer sees must be the file, in order (a pack is named by hashing it)
      const seen: Buffer[] = [];
      const out = SequentialFile.open(file, C.O_WRONLY | C.O_CREAT | C.O_EXCL, 0o600, (bytes) => seen.push(Buffer.from(bytes)));
      if (!direct) assert.equal(out.direct, false, 'the switch turns direct writes off');
      try {
        // a part at a time, waiting as a worker does, so background writes overlap the staging
        for (const p of parts) {
          out.append([p]);
          await out.settle(1);
        }
        await out.finish();
      } finally {
        await out.close();
      }
      assert.ok((await readFile(file)).equals(Buffer.concat(parts)), `${direct ? 'direct' : 'plain'} write of parts ${split.join(',')}`);
      assert.ok(Buffer.concat(seen).equals(Buffer.concat(parts)), `observed bytes of parts ${split.join(',')}`);
      assert.throws(() => out.append([Buffer.from('late')]), /after finish/);
    }
  });
});

test('whole-file write: replaces a longer file, a link in the way is replaced not followed, and the descriptor sees the finished file', async () => {
  await bothWays(async (dir) => {
    // around the small stage (512 KiB) too: files up to it are staged in one of that size
    for (const size of [0, 100, DIRECT_MIN - 1, DIRECT_MIN, DIRECT_MIN + DIRECT_ALIGN + 17, STAGE / 2 - DIRECT_ALIGN + 7, STAGE / 2, STAGE / 2 + 1, 3 * STAGE + 1]) {
      const file = path.join(dir, `w${size}`);
      await writeFile(file, randomBytes(size + 3 * DIRECT_ALIGN + 5));
      const data = randomBytes(size);
      let seen = -1;
      await writeWhole(Buffer.from(file), data, (fd) => {
        seen = fd;
      });
      assert.ok(seen >= 0, 'beforeClose ran');
      assert.ok((await readFile(file)).equals(data), `file of ${size} bytes over a longer one`);
    }
    // new files (created by the write, nothing to cut) and small ones written at once
    for (const size of [0, 100, DIRECT_MIN + DIRECT_ALIGN + 17]) {
      const data = randomBytes(size);
      await writeWhole(Buffer.from(path.join(dir, `new${size}`)), data);
      assert.ok((await readFile(path.join(dir, `new${size}`))).equals(data), `new file of ${size} bytes`);
      const small = path.join(dir, `at${size}`);
      writeAtSync(Buffer.from(small), data, 0, size);
      assert.ok((await readFile(small)).equals(data), `new file of ${size} bytes written at once`);
      await writeFile(small, randomBytes(size + 5000));
      writeAtSync(Buffer.from(small), data, 0, size);
      assert.ok((await readFile(small)).equals(data), `${size} bytes written at once over a longer file`);
    }
    const outside = path.join(dir, 'outside');
    await writeFile(outside, 'untouched');
    const link = path.join(dir, 'link');
    await symlink(outside, link);
    const data = randomBytes(DIRECT_MIN + 1);
    await writeWhole(Buffer.from(link), data);
    assert.ok((await readFile(link)).equals(data));
    assert.equal(await readFile(outside, 'utf8'), 'untouched');
  });
});

test('copy into a stage: bytes of shared memory land at the offset, the rest untouched; out of bounds throws, with the addon or without', () => {
  assert.equal(typeof nativeAddon()?.copy, 'function', 'the addon built by npm install has copy()');
  for (const native of [true, false]) {
    if (!native) process.env.OCVAULT_NATIVE_AEAD = '0';
    try {
      const shared = Buffer.from(new SharedArrayBuffer(3 * DIRECT_ALIGN));
      randomBytes(shared.length).copy(shared);
      const src = shared.subarray(17, 17 + DIRECT_ALIGN + 5);
      const dst = Buffer.alloc(2 * DIRECT_ALIGN, 0xee);
      copyInto(dst, 3, src);
      assert.ok(dst.subarray(3, 3 + src.length).equals(src), `copied (${native ? 'addon' : 'plain'})`);
      assert.equal(dst[2], 0xee);
      assert.equal(dst[3 + src.length], 0xee);
      assert.throws(() => copyInto(dst, dst.length - src.length + 1, src), RangeError);
    } finally {
      delete process.env.OCVAULT_NATIVE_AEAD;
    }
  }
});

test('whole-file write from shared memory (a restore reads packs into it): the file holds the bytes', async () => {
  await bothWays(async (dir) => {
    for (const size of [DIRECT_MIN + 5, STAGE / 2 + 1, 2 * STAGE + DIRECT_ALIGN + 3]) {
      const shared = Buffer.from(new SharedArrayBuffer(size + 100));
      const data = randomBytes(size);
      data.copy(shared, 33);
      const file = path.join(dir, `shared${size}`);
      await writeWhole(Buffer.from(file), shared.subarray(33, 33 + size));
      assert.ok((await readFile(file)).equals(data), `${size} bytes from shared memory`);
    }
  });
});

test('blob writes: a batch of more whole files than writes in flight restores every file, bytes, mode and time, with overflow, without, and as the write rates decide', async () => {
  for (const overflow of ['1', '0', undefined]) {
    const dir = await mkdtemp(path.join(tmpdir(), 'ocv-overflow-'));
    if (overflow === undefined) delete process.env.OCVAULT_WRITE_OVERFLOW;
    else process.env.OCVAULT_WRITE_OVERFLOW = overflow;
    try {
      // plain blobs back to back in one piece; the opener gives each blob's bytes as they are
      const contents = Array.from({ length: 12 }, (_, i) => randomBytes(DIRECT_MIN + i * 3001));
      const piece = Buffer.concat(contents);
      let offset = 0;
      const blobs: BlobWrite[] = contents.map((c, i) => {
        const b: BlobWrite = { id: String(i), offset, length: c.length, targets: [{ file: path.join(dir, `f${i}`), position: 0, truncateTo: c.length, meta: { mode: 0o640 + (i % 2), mtime: 1_000_000_000 + i } }] };
        offset += c.length;
        return b;
      });
      // an existing longer file among them is cut to the blob's size
      await writeFile(path.join(dir, 'f5'), randomBytes(contents[5]!.length * 2));
      const written = await writeBlobs('pack', piece, blobs, (_id, sealed) => Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength));
      assert.equal(written.bytes, piece.length);
      for (const [i, c] of contents.entries()) {
        const file = path.join(dir, `f${i}`);
        assert.ok((await readFile(file)).equals(c), `bytes of f${i} (overflow ${overflow})`);
        const st = await stat(file);
        assert.equal(st.mode & 0o777, 0o640 + (i % 2), `mode of f${i}`);
        assert.equal(st.mtimeMs, (1_000_000_000 + i) * 1000, `time of f${i}`);
      }
    } finally {
      delete process.env.OCVAULT_WRITE_OVERFLOW;
      await rm(dir, { recursive: true, force: true });
    }
  }
});
