import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { makeChunker, type Chunker } from '../../src/repo/chunker.js';
import { FILE_CHUNKS, DB_CHUNKS } from '../../src/repo/config.js';

function chunkAll(c: Chunker, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start < data.length) {
    const n = c.cut(data, start, data.length);
    out.push(data.subarray(start, start + n));
    start += n;
  }
  return out;
}

test('chunker: sizes stay within bounds and average near the target', () => {
  const c = makeChunker(randomBytes(32), DB_CHUNKS);
  const data = randomBytes(16 * 1024 * 1024);
  const chunks = chunkAll(c, data);
  assert.deepEqual(Buffer.concat(chunks), data);
  for (const ch of chunks.slice(0, -1)) {
    assert.ok(ch.length >= DB_CHUNKS.min && ch.length <= DB_CHUNKS.max, `chunk of ${ch.length}`);
  }
  const avg = data.length / chunks.length;
  assert.ok(avg > DB_CHUNKS.avg * 0.6 && avg < DB_CHUNKS.avg * 1.6, `average ${avg}`);
});

test('chunker: boundaries are content-defined, so an insertion changes only nearby chunks', () => {
  const key = randomBytes(32);
  const c = makeChunker(key, DB_CHUNKS);
  const data = randomBytes(8 * 1024 * 1024);
  const edited = Buffer.concat([data.subarray(0, 3_000_000), Buffer.from('a few inserted bytes'), data.subarray(3_000_000)]);
  const a = new Set(chunkAll(c, data).map((b) => b.toString('base64')));
  const b = chunkAll(c, edited).map((x) => x.toString('base64'));
  const fresh = b.filter((x) => !a.has(x)).length;
  assert.ok(fresh <= 3, `${fresh} chunks changed`);
});

test('chunker: the key seeds the gear table, so another key cuts elsewhere', () => {
  const data = randomBytes(20 * 1024 * 1024);
  const a = chunkAll(makeChunker(randomBytes(32), FILE_CHUNKS), data).map((b) => b.length);
  const b = chunkAll(makeChunker(randomBytes(32), FILE_CHUNKS), data).map((b) => b.length);
  assert.notDeepEqual(a, b);
  const k = randomBytes(32);
  assert.deepEqual(chunkAll(makeChunker(k, FILE_CHUNKS), data).map((b) => b.length), chunkAll(makeChunker(k, FILE_CHUNKS), data).map((b) => b.length));
});
