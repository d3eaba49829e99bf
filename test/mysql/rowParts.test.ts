import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rowPart } from '../../src/sources/mysql/rowParts.js';

/** A deterministic PRNG (mulberry32): the same cases on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lines of random lengths (some far longer than a chunk), cut into chunks anywhere. */
function stream(rand: () => number, lines: number, maxLine: number, maxChunk: number): { bytes: Buffer; chunks: Buffer[] } {
  const parts: Buffer[] = [];
  for (let i = 0; i < lines; i++) {
    const len = Math.floor(rand() * rand() * maxLine);
    parts.push(Buffer.from(`${'x'.repeat(len)}${i}\n`));
  }
  const bytes = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = Math.max(1, Math.floor(rand() * maxChunk));
    chunks.push(bytes.subarray(at, at + n));
    at += n;
  }
  return { bytes, chunks };
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of it) out.push(b);
  return Buffer.concat(out);
}

test('table parts hold whole lines and together exactly the stream, wherever the chunks were cut', async () => {
  const rand = prng(7);
  let cases = 0;
  let emptyParts = 0;
  for (const [lines, maxLine, maxChunk] of [[200, 40, 64], [50, 400, 32], [30, 2000, 100], [5, 10, 3], [1, 50, 8], [400, 20, 4096]] as const) {
    for (let round = 0; round < 10; round++) {
      const { bytes, chunks } = stream(rand, lines, maxLine, maxChunk);
      const reads: number[] = [];
      const read = (from: number): AsyncIterable<Buffer> => {
        reads.push(from);
        return (async function* () {
          for (let i = from; i < chunks.length; i++) yield chunks[i]!;
        })();
      };
      for (const parts of [1, 2, 3, 5]) {
        if (parts > chunks.length) continue;
        const got: Buffer[] = [];
        for (let i = 0; i < parts; i++) {
          const part = await collect(rowPart(read, chunks.length, i, parts));
          if (part.length === 0) emptyParts++;
          else assert.equal(part[part.length - 1], 0x0a, `part ${i}/${parts} ends mid-line`);
          got.push(part);
        }
        assert.ok(Buffer.concat(got).equals(bytes), `${parts} parts of ${chunks.length} chunks do not add up to the stream`);
        cases++;
      }
    }
  }
  assert.ok(cases > 150);
  assert.ok(emptyParts > 0, 'no case had a line spanning a whole part');
});
