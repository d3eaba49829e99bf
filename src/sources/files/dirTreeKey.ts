import { createHash } from 'node:crypto';
import type { BlobId } from '../../repo/blobId.js';
import { scanParts, type DirScan } from './dirScan.js';

/**
 * Changed when the tree a backup makes of the same directory would change (a new node field,
 * another way of reading files): keys made before then stop matching.
 */
const KEY_FORMAT = 'ocvault dir tree v1';

/**
 * What a directory's tree is a function of, hashed: its scan (every entry's name and lstat
 * numbers, no atime), the trees of its subdirectories as this backup saved them (undefined:
 * left out), and what decides what is left out (the excludes, and the directory's path
 * relative to the root they match against). A directory whose key is the same as when a
 * backup saved its tree has that tree again: unchanged files keep the nodes that backup gave
 * them, as an incremental backup keeps its parent's.
 */
export function dirTreeKey(scan: DirScan, excludeContext: string, subtrees: readonly (BlobId | undefined)[]): Buffer {
  const h = createHash('sha256');
  h.update(KEY_FORMAT);
  h.update('\0');
  h.update(excludeContext);
  h.update('\0');
  for (const part of scanParts(scan)) h.update(part);
  // ids are of one length: '-' (left out) cannot be mistaken for one
  for (const id of subtrees) h.update(id ?? '-');
  return h.digest();
}
