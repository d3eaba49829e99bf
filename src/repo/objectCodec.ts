import type { Sealer } from './sealer.js';
import { decodeBlobPlain, encodeBlobPlain } from './blobCodec.js';

/** Index segments, snapshots and locks are stored compressed (when it pays) and sealed. */
export function sealObject(sealer: Sealer, bytes: Uint8Array, level: number): Buffer {
  return sealer.seal(encodeBlobPlain(bytes, level));
}

export function openObject(sealer: Sealer, stored: Uint8Array, what: string): Buffer {
  return decodeBlobPlain(sealer.open(stored, what), what);
}
