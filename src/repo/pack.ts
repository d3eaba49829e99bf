import { OcvaultError } from '../errors/OcvaultError.js';
import type { Sealer } from './sealer.js';
import { BLOB_TYPES, type BlobId, type BlobType } from './blobId.js';

/**
 * A pack: sealed blobs back to back, then the sealed header, then the header's length as a
 * 4-byte little-endian integer. The header alone lets `repair index` rebuild the index.
 * Header entry: type (1 byte), sealed length (4), raw length (4), id (32).
 */
export interface PackEntry {
  id: BlobId;
  type: BlobType;
  offset: number;
  length: number;
  rawLength: number;
}

const ENTRY = 41;

export function encodePackHeader(entries: readonly PackEntry[], sealer: Sealer): Buffer {
  const plain = Buffer.allocUnsafe(entries.length * ENTRY);
  entries.forEach((e, i) => {
    const o = i * ENTRY;
    plain[o] = BLOB_TYPES.indexOf(e.type);
    plain.writeUInt32LE(e.length, o + 1);
    plain.writeUInt32LE(e.rawLength, o + 5);
    plain.write(e.id, o + 9, 32, 'hex');
  });
  const sealed = sealer.seal(plain);
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32LE(sealed.length, 0);
  return Buffer.concat([sealed, len]);
}

/** How many bytes at the end of a pack to read to be likely to get the whole header at once. */
export function headerReadGuess(blobCount = 1000): number {
  return blobCount * ENTRY + 64;
}

/**
 * Decodes the header from the tail of a pack. `tail` is the last bytes of the pack
 * (`packSize` long in all); returns the entries, or the number of tail bytes needed.
 */
export function decodePackHeader(tail: Buffer, packSize: number, sealer: Sealer, packName: string): PackEntry[] | { need: number } {
  const what = `pack ${packName}`;
  if (packSize < 4 || tail.length < 4) throw new OcvaultError('CorruptObject', `${what} is truncated (no header)`, { pack: packName });
  const hlen = tail.readUInt32LE(tail.length - 4);
  if (hlen + 4 > packSize) throw new OcvaultError('CorruptObject', `${what} has a header length beyond its size`, { pack: packName });
  if (hlen + 4 > tail.length) return { need: hlen + 4 };
  const plain = sealer.open(tail.subarray(tail.length - 4 - hlen, tail.length - 4), `header of ${what}`);
  if (plain.length % ENTRY !== 0) throw new OcvaultError('CorruptObject', `header of ${what} is malformed`, { pack: packName });
  const entries: PackEntry[] = [];
  let offset = 0;
  for (let o = 0; o < plain.length; o += ENTRY) {
    const type = BLOB_TYPES[plain[o]!];
    if (!type) throw new OcvaultError('CorruptObject', `header of ${what} names an unknown blob type`, { pack: packName });
    const length = plain.readUInt32LE(o + 1);
    entries.push({ type, length, rawLength: plain.readUInt32LE(o + 5), id: plain.subarray(o + 9, o + 41).toString('hex'), offset });
    offset += length;
  }
  if (offset + hlen + 4 !== packSize) throw new OcvaultError('CorruptObject', `header of ${what} does not match its size`, { pack: packName });
  return entries;
}
