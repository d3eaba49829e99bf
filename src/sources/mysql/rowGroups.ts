import { OcvaultError } from '../../errors/OcvaultError.js';
import type { BlobId } from '../../repo/blobId.js';

/**
 * A big table's row-chunk ids are stored as groups, each group a blob of its own, so a snapshot
 * whose table changed in a few rows re-stores a few groups rather than the whole id list (the
 * bench's oc_order lists ~12.8k ids, ~830 KB of JSON). Group ends are content-defined: a group
 * ends after an id whose leading bits are zero, so an insertion or removal changes only the
 * groups around it and every later group keeps its id.
 *
 * The average size trades the groups a change rewrites (k changes × G ids) against the length of
 * the manifest's group list (N/G ids), both rewritten per snapshot: k·G + N/G is least at
 * G = √(N/k). On the bench's day of trading (oc_order: N ≈ 11.6k ids, k ≈ 250 changed orders),
 * replaying its two snapshots' id lists, the changed tables' manifests and new groups cost
 * 281 KB at G = 4, 253 KB at 8, 312 KB at 16, 374 KB at 32 (610 KB with every id inline).
 * Cutting differently changes only how well groups deduplicate, never how they are read, so
 * these numbers are not part of the repository format.
 */
export const ROW_GROUP_AVERAGE = 8;
/** a run of ids without a boundary is cut here (a table of one repeated chunk has none) */
export const ROW_GROUP_MAX = 4 * ROW_GROUP_AVERAGE;
/** tables with at most this many ids keep them inline in the manifest: one blob fewer to read and store */
export const ROW_GROUP_INLINE_MAX = ROW_GROUP_MAX;

/** leading bits of an id that must be zero to end a group: log2 of the average */
const BOUNDARY_BITS = Math.log2(ROW_GROUP_AVERAGE);

function endsGroup(id: BlobId): boolean {
  // ids are keyed BLAKE3, uniform: the first byte's top bits are zero with probability 1/G
  return parseInt(id.slice(0, 2), 16) >> (8 - BOUNDARY_BITS) === 0;
}

/** Cuts an ordered id list into content-defined groups (concatenated, they are the list again). */
export function splitRowGroups(ids: readonly BlobId[]): BlobId[][] {
  const groups: BlobId[][] = [];
  let group: BlobId[] = [];
  for (const id of ids) {
    group.push(id);
    if (endsGroup(id) || group.length >= ROW_GROUP_MAX) {
      groups.push(group);
      group = [];
    }
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * A group blob: the magic `OCRG`, a version byte (1), then each id's 32 bytes. Binary rather
 * than JSON: ids are random, so hex text only doubles what zstd has to squeeze back.
 */
const MAGIC = Buffer.from('OCRG\x01', 'latin1');
const ID_BYTES = 32;

export function encodeRowGroup(ids: readonly BlobId[]): Buffer {
  const out = Buffer.allocUnsafe(MAGIC.length + ids.length * ID_BYTES);
  MAGIC.copy(out, 0);
  ids.forEach((id, i) => out.write(id, MAGIC.length + i * ID_BYTES, ID_BYTES, 'hex'));
  return out;
}

/** Parses a group blob; `name` names the object in errors. */
export function decodeRowGroup(bytes: Uint8Array, name: string): BlobId[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const body = b.length - MAGIC.length;
  if (body <= 0 || body % ID_BYTES !== 0 || !b.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new OcvaultError('CorruptObject', `row group ${name.slice(0, 12)} is malformed`, { object: name });
  }
  const ids: BlobId[] = [];
  for (let o = MAGIC.length; o < b.length; o += ID_BYTES) ids.push(b.toString('hex', o, o + ID_BYTES));
  return ids;
}
