import { createCipheriv } from 'node:crypto';
import type { ChunkerParams } from './config.js';

/**
 * FastCDC with normalized chunking (level 2): a gear rolling hash, a stricter mask before the
 * average size and a looser one after it, so sizes cluster around the average. The gear table
 * comes from the repository's chunker key, so chunk boundaries reveal nothing of the content.
 */
export interface Chunker {
  readonly params: ChunkerParams;
  /**
   * Length of the first chunk of `data[start, end)`. The caller must pass at least `max` bytes
   * unless the stream ends at `end`; then a short tail is one chunk.
   */
  cut(data: Uint8Array, start: number, end: number): number;
}

/** 256 pseudo-random 32-bit values from AES-CTR over zeros, keyed by the chunker key. */
export function gearTable(key: Uint8Array): Uint32Array {
  const c = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const bytes = c.update(Buffer.alloc(1024));
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) table[i] = bytes.readUInt32LE(i * 4);
  return table;
}

/** A mask of `bits` one-bits spread over the high half of the word, where the gear hash mixes best. */
function spreadMask(bits: number): number {
  let mask = 0;
  let placed = 0;
  for (let pos = 31; pos >= 0 && placed < bits; pos -= 2) {
    mask |= 1 << pos;
    placed++;
  }
  for (let pos = 30; pos >= 0 && placed < bits; pos -= 2) {
    mask |= 1 << pos;
    placed++;
  }
  return mask >>> 0;
}

/**
 * Speed: the gear loop reads its table and masks from locals, and the table is signed so the
 * hash stays in 32-bit integers. A closure per chunker (files and database rows in one worker)
 * made V8 share one optimized loop between two contexts, and it ran at half speed (measured:
 * 340 against 730 MB/s on row text).
 */
class GearChunker implements Chunker {
  private readonly gear: Int32Array;
  private readonly maskS: number;
  private readonly maskL: number;

  constructor(key: Uint8Array, readonly params: ChunkerParams) {
    this.gear = new Int32Array(gearTable(key).buffer);
    const bits = Math.round(Math.log2(params.avg));
    this.maskS = spreadMask(bits + 2) | 0;
    this.maskL = spreadMask(bits - 2) | 0;
  }

  cut(data: Uint8Array, start: number, end: number): number {
    const { min, avg, max } = this.params;
    let n = end - start;
    if (n <= min) return n;
    if (n > max) n = max;
    const gear = this.gear;
    const maskS = this.maskS;
    const maskL = this.maskL;
    const normal = n < avg ? n : avg;
    let h = 0;
    let i = start + min;
    const iNormal = start + normal;
    const iEnd = start + n;
    for (; i < iNormal; i++) {
      h = ((h << 1) + gear[data[i]!]!) | 0;
      if ((h & maskS) === 0) return i - start + 1;
    }
    for (; i < iEnd; i++) {
      h = ((h << 1) + gear[data[i]!]!) | 0;
      if ((h & maskL) === 0) return i - start + 1;
    }
    return n;
  }
}

export function makeChunker(key: Uint8Array, params: ChunkerParams): Chunker {
  return new GearChunker(key, params);
}
