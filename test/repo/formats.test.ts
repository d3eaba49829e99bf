import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { makeSealer } from '../../src/repo/sealer.js';
import { encodePackHeader, decodePackHeader, type PackEntry } from '../../src/repo/pack.js';
import { encodeIndexSegment, decodeIndexSegment, type IndexSegment } from '../../src/repo/indexSegment.js';
import { decodeTree, encodeTree, nodeKey } from '../../src/repo/tree.js';
import { decodeSnapshot, encodeSnapshot, type Snapshot } from '../../src/repo/snapshot.js';
import { createKeyFile, decodeKeyFile, encodeKeyFile, unlockKeyFile } from '../../src/repo/keyFile.js';
import { newMasterKey } from '../../src/repo/masterKey.js';
import { decodeBlobPlain, encodeBlobParts, encodeBlobPlain } from '../../src/repo/blobCodec.js';
import { nativeAead } from '../../src/repo/nativeAead.js';
import { isCompressedFormat } from '../../src/repo/compressedFormats.js';
import { decodeRepoConfig, encodeRepoConfig, newRepoConfig } from '../../src/repo/config.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';

const isCode = (code: string) => (e: unknown) => e instanceof OcvaultError && e.code === code;
const hex = (): string => randomBytes(32).toString('hex');

test('sealer: round trip, fresh nonce each time, the input untouched, any flipped bit is detected', () => {
  for (const cipher of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
    const s = makeSealer(cipher, randomBytes(32));
    const plain = randomBytes(5000);
    const a = s.seal(plain);
    const b = s.seal(plain);
    assert.notDeepEqual(a, b);
    const before = Buffer.from(a);
    assert.deepEqual(s.open(a, 'x'), plain);
    assert.deepEqual(a, before, 'open leaves the sealed bytes as they were (they may be a cached pack)');
    for (const pos of [0, 12, 2000, a.length - 1]) {
      const bad = Buffer.from(a);
      bad[pos]! ^= 1;
      assert.throws(() => s.open(bad, 'blob x'), isCode('CorruptObject'));
    }
    assert.throws(() => makeSealer(cipher, randomBytes(32)).open(a, 'x'), isCode('CorruptObject'));
  }
});

test('sealer: sealing and opening in place (the native addon) and through node:crypto read each other; damage is caught either way', () => {
  assert.ok(nativeAead(), 'the native AEAD addon is built (npm install builds native/aead)');
  for (const cipher of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
    const key = randomBytes(32);
    const inPlace = makeSealer(cipher, key);
    process.env.OCVAULT_NATIVE_AEAD = '0';
    const viaNode = makeSealer(cipher, key);
    delete process.env.OCVAULT_NATIVE_AEAD;
    for (const sizes of [[1, 0], [1, 5000], [1, 128 * 1024 + 7], [3, 16, 1, 70_000]]) {
      const plain = sizes.map((n) => randomBytes(n));
      const whole = Buffer.concat(plain);
      const parts = plain.map((p) => Buffer.from(p));
      const sealed = Buffer.concat(inPlace.sealInPlace(parts));
      assert.equal(sealed.length, whole.length + inPlace.overhead);
      if (whole.length > 0) assert.ok(!Buffer.concat(parts).equals(whole), 'the parts were encrypted where they lay');
      assert.deepEqual(viaNode.open(sealed, 'x'), whole, `${cipher} ${sizes}: node:crypto opens what the addon sealed`);
      const other = Buffer.concat(viaNode.sealParts(plain));
      const opened = inPlace.openInPlace(other, 'x');
      assert.deepEqual(opened, whole, `${cipher} ${sizes}: the addon opens what node:crypto sealed`);
      assert.equal(opened.buffer, other.buffer, 'opened where it lay');
      for (const pos of [0, 12, sealed.length - 1]) {
        const bad = Buffer.from(sealed);
        bad[pos]! ^= 1;
        assert.throws(() => inPlace.openInPlace(bad, 'blob y'), (e: unknown) => isCode('CorruptObject')(e) && /blob y/.test((e as Error).message));
      }
      assert.throws(() => makeSealer(cipher, randomBytes(32)).openInPlace(Buffer.from(sealed), 'x'), isCode('CorruptObject'));
    }
    assert.throws(() => inPlace.openInPlace(Buffer.alloc(27), 'short'), isCode('CorruptObject'));
  }
});

test('sealer: nonces never repeat across many seals (they are cut from batches of random bytes)', () => {
  const s = makeSealer('aes-256-gcm', randomBytes(32));
  const seen = new Set<string>();
  const plain = Buffer.from('x');
  for (let i = 0; i < 5000; i++) {
    const sealed = i % 2 ? s.seal(plain) : Buffer.concat(s.sealParts([plain]));
    seen.add(sealed.subarray(0, 12).toString('hex'));
  }
  assert.equal(seen.size, 5000);
});

test('blob codec: compressible data is compressed, random data stored raw, both round-trip', () => {
  const text = Buffer.from('INSERT INTO oc_product VALUES (1,2,3);\n'.repeat(5000));
  const z = encodeBlobPlain(text, 3);
  assert.equal(z[0], 1);
  assert.ok(z.length < text.length / 10);
  assert.deepEqual(decodeBlobPlain(z, 'x'), text);
  // hex ids (a table manifest's row groups, a tree's content lists) repeat little but shrink by half
  const ids = Buffer.from(JSON.stringify(Array.from({ length: 2_000 }, hex)));
  const h = encodeBlobPlain(ids, 1);
  assert.equal(h[0], 1);
  assert.ok(h.length < ids.length * 0.6, `${h.length} of ${ids.length}`);
  const rnd = randomBytes(300_000);
  const r = encodeBlobPlain(rnd, 3);
  assert.equal(r[0], 0);
  assert.deepEqual(decodeBlobPlain(r, 'x'), rnd);
  assert.deepEqual(decodeBlobPlain(encodeBlobPlain(Buffer.alloc(0), 3), 'x'), Buffer.alloc(0));
  assert.throws(() => decodeBlobPlain(Buffer.from([7, 1, 2]), 'blob y'), isCode('CorruptObject'));
});

test('compressed formats: known signatures are recognised, text and uncompressed containers are not', () => {
  const pad = (head: Buffer): Buffer => Buffer.concat([head, Buffer.alloc(64, 0x41)]);
  const yes: Record<string, Buffer> = {
    jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
    png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    gif: Buffer.from('GIF89a'),
    webp: Buffer.concat([Buffer.from('RIFF'), Buffer.from([1, 2, 3, 4]), Buffer.from('WEBPVP8 ')]),
    gzip: Buffer.from([0x1f, 0x8b, 0x08, 0x00]),
    zstd: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]),
    zip: Buffer.from([0x50, 0x4b, 0x03, 0x04]),
    mp4: Buffer.concat([Buffer.from([0, 0, 0, 0x20]), Buffer.from('ftypisom')]),
    bzip2: Buffer.concat([Buffer.from('BZh9'), Buffer.from([0x31, 0x41, 0x59, 0x26, 0x53, 0x59])]),
    woff2: Buffer.from('wOF2'),
  };
  for (const [name, head] of Object.entries(yes)) assert.ok(isCompressedFormat(pad(head)), name);
  const no: Record<string, Buffer> = {
    php: Buffer.from('<?php\n// OpenCart\n'),
    sql: Buffer.from('INSERT INTO `oc_product` VALUES'),
    wav: Buffer.concat([Buffer.from('RIFF'), Buffer.from([1, 2, 3, 4]), Buffer.from('WAVEfmt ')]),
    bzText: Buffer.from('BZh9 is how this text begins'),
    empty: Buffer.alloc(0),
    shortJpeg: Buffer.from([0xff, 0xd8]),
  };
  for (const [name, head] of Object.entries(no)) assert.ok(!isCompressedFormat(name === 'empty' || name === 'shortJpeg' ? head : pad(head)), name);
  // a raw encoding keeps compressible bytes as they are, and decodes to them
  const text = Buffer.from('compressible '.repeat(5000));
  const parts = encodeBlobParts(text, 3, true);
  assert.equal(parts[0]![0], 0);
  assert.deepEqual(decodeBlobPlain(Buffer.concat(parts), 'x'), text);
  assert.equal(encodeBlobParts(text, 3)[0]![0], 1);
});

test('pack header: round trip gives offsets; a damaged or truncated header is reported by pack name', () => {
  const sealer = makeSealer('aes-256-gcm', randomBytes(32));
  const entries: PackEntry[] = [];
  let offset = 0;
  for (let i = 0; i < 50; i++) {
    const length = 100 + i * 7;
    entries.push({ id: hex(), type: i % 5 ? 'data' : 'tree', offset, length, rawLength: length * 2 });
    offset += length;
  }
  const header = encodePackHeader(entries, sealer);
  const packSize = offset + header.length;
  assert.deepEqual(decodePackHeader(header, packSize, sealer, 'p1'), entries);
  const short = decodePackHeader(header.subarray(header.length - 100), packSize, sealer, 'p1');
  assert.deepEqual(short, { need: header.length });
  const bad = Buffer.from(header);
  bad[10]! ^= 0xff;
  assert.throws(() => decodePackHeader(bad, packSize, sealer, 'deadbeef'), (e: unknown) => isCode('CorruptObject')(e) && /deadbeef/.test((e as Error).message));
  assert.throws(() => decodePackHeader(header, packSize + 1, sealer, 'p2'), isCode('CorruptObject'));
});

test('index segment: round trip; malformed input is a clear error naming the segment', () => {
  const seg: IndexSegment = {
    version: 1,
    supersedes: ['old1'],
    packs: [{ id: hex(), size: 1234, blobs: [{ id: hex(), type: 'data', offset: 0, length: 10, rawLength: 20 }, { id: hex(), type: 'tree', offset: 10, length: 5, rawLength: 5 }] }],
  };
  assert.deepEqual(decodeIndexSegment(encodeIndexSegment(seg), 'n'), seg);
  assert.throws(() => decodeIndexSegment(Buffer.from('{"version":1,"supersedes":[],"packs":[{"id":"x","size":1,"blobs":[["zz","d",0,1,1]]}]}'), 'seg9'), (e: unknown) => isCode('CorruptObject')(e) && /seg9/.test((e as Error).message));
  assert.throws(() => decodeIndexSegment(Buffer.from('not json'), 's'), isCode('CorruptObject'));
});

test('tree: round trip; names that could escape the restore target are rejected', () => {
  const tree = { nodes: [{ name: 'a', type: 'file' as const, mode: 0o644, mtimeNs: '1', size: 0, content: [] }] };
  assert.deepEqual(decodeTree(encodeTree(tree), hex()), tree);
  for (const name of ['..', '.', 'a/b', '', 'x\0y']) {
    const bad = { nodes: [{ ...tree.nodes[0], name }] };
    assert.throws(() => decodeTree(encodeTree(bad as typeof tree), hex()), isCode('CorruptObject'), name);
  }
  assert.throws(() => decodeTree(Buffer.from('{"nodes":[{"name":"d","type":"dir","mode":493,"mtimeNs":"1"}]}'), hex()), isCode('CorruptObject'));
  // raw names are checked as the bytes they restore to, whatever their readable stand-in
  for (const raw of [Buffer.from('..'), Buffer.from('a/b'), Buffer.from([0x61, 0, 0x62])]) {
    const bad = { nodes: [{ ...tree.nodes[0], name: 'fine', nameRaw: raw.toString('base64') }] };
    assert.throws(() => decodeTree(encodeTree(bad as typeof tree), hex()), isCode('CorruptObject'), raw.toString('hex'));
  }
  // map keys are the name's bytes as latin1: ASCII, UTF-8 and raw names alike; two entries with one key are rejected
  const named = (name: string, nameRaw?: string) => ({ ...tree.nodes[0], name, ...(nameRaw ? { nameRaw } : {}) });
  const odd = { nodes: [named('plain.txt'), named('caf\u00e9'), named('x\ufffd', Buffer.from([0x78, 0xff]).toString('base64'))] };
  const decoded = decodeTree(encodeTree(odd), hex());
  assert.deepEqual(decoded.nodes.map(nodeKey), [Buffer.from('plain.txt'), Buffer.from('caf\u00e9'), Buffer.from([0x78, 0xff])].map((b) => b.toString('latin1')));
  for (const twice of [[named('a'), named('a')], [named('caf\u00e9'), named('other', Buffer.from('caf\u00e9').toString('base64'))]]) {
    assert.throws(() => decodeTree(encodeTree({ nodes: twice }), hex()), (e: unknown) => isCode('CorruptObject')(e) && /duplicate/.test((e as Error).message));
  }
});

test('snapshot: round trip and validation', () => {
  const s: Snapshot = {
    version: 1, time: new Date().toISOString(), host: 'h', user: 'u', kind: 'incremental', tags: ['t'], paths: ['/x'], tree: hex(),
    stats: { files: 1, dirs: 1, bytes: 1, newFiles: 1, changedFiles: 0, unchangedFiles: 0, addedBytes: 1, addedBlobs: 1, durationMs: 1, errors: 0 },
  };
  assert.deepEqual(decodeSnapshot(encodeSnapshot(s), 'id'), s);
  assert.throws(() => decodeSnapshot(Buffer.from(JSON.stringify({ ...s, kind: 'weird' })), 'id'), isCode('CorruptObject'));
});

test('key file: the right password unlocks, a wrong one is WrongPassword, none is NoPassword', async () => {
  const master = newMasterKey();
  const kf = await createKeyFile(master, 'correct horse', { N: 1024, r: 8, p: 1 });
  const decoded = decodeKeyFile(encodeKeyFile(kf), 'k1');
  assert.deepEqual(await unlockKeyFile(decoded, 'correct horse', 'k1'), master);
  await assert.rejects(unlockKeyFile(decoded, 'wrong', 'k1'), isCode('WrongPassword'));
  await assert.rejects(unlockKeyFile(decoded, undefined, 'k1'), isCode('NoPassword'));
  assert.ok(!encodeKeyFile(kf).includes(master.encryption.toString('base64')));
  assert.throws(() => decodeKeyFile(Buffer.from(JSON.stringify({ ...kf, N: 2 ** 30 })), 'k2'), isCode('CorruptObject'));
});

test('repository config: round trip; unknown versions and bad chunker sizes are refused', () => {
  const c = newRepoConfig('aes-256-gcm');
  assert.deepEqual(decodeRepoConfig(encodeRepoConfig(c)), c);
  assert.throws(() => decodeRepoConfig(encodeRepoConfig({ ...c, version: 2 as 1 })), isCode('UnsupportedFormat'));
  assert.throws(() => decodeRepoConfig(encodeRepoConfig({ ...c, chunker: { min: 10, avg: 3000, max: 5 } })), isCode('CorruptObject'));
  assert.throws(() => decodeRepoConfig(Buffer.from('{')), isCode('CorruptObject'));
});
