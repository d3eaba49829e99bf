/** A blob id: 32 bytes of keyed BLAKE3, written as 64 hex characters. */
export type BlobId = string;
export type BlobType = 'data' | 'tree';

export const BLOB_TYPES: readonly BlobType[] = ['data', 'tree'];

export function isBlobId(s: unknown): s is BlobId {
  return typeof s === 'string' && /^[0-9a-f]{64}$/.test(s);
}
