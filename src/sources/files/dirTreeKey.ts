import { hash } from 'node:crypto';
import type { PathPattern } from './glob.js';
import { scanParts, type DirScan } from './dirScan.js';

/**
 * Changed when the tree a backup makes of the same directory would change (a new node field,
 * another way of reading files): keys made before then stop matching.
 */
const KEY_FORMAT = 'ocvault dir tree v1';

/**
 * What decides which of a directory's entries are left out: the excludes, and the directory's
 * path relative to the root they match against ('' without excludes, as nothing is matched).
 */
export function keyContext(excludes: readonly PathPattern[], rel: string): string {
  return excludes.length === 0 ? '' : `${excludes.map((p) => p.source).join('\n')}\0${rel}`;
}

/**
 * What a backup sees of a directory itself, hashed: its scan (every entry's name and lstat
 * numbers, no atime) and what leaves entries out.
 */
export function scanDigest(context: string, scan: DirScan): Buffer {
  return sha256([Buffer.from(`${KEY_FORMAT}\0${context}\0`), ...scanParts(scan)]);
}

/**
 * The key of the whole tree under a directory: a Merkle hash over what a backup sees of it,
 * from its scanDigest and `subdirKeys`, the keys of its subdirectories in scan order (null for
 * one left out). A directory whose key is the same as when a backup saved its tree has that
 * tree again, down to the last file: unchanged files keep the nodes that backup gave them, as
 * an incremental backup keeps its parent's.
 */
export function dirTreeKey(digest: Buffer, subdirKeys: readonly (Buffer | null)[]): Buffer {
  // keys are of one length: '-' (left out) cannot be mistaken for one
  return sha256([digest, ...subdirKeys.map((k) => k ?? LEFT_OUT)]);
}

const LEFT_OUT = Buffer.from('-');

/** One-shot SHA-256 of parts (crypto.hash: no Hash object, with its native state, per call). */
function sha256(parts: readonly Uint8Array[]): Buffer {
  return hash('sha256', parts.length === 1 ? parts[0]! : Buffer.concat(parts), 'buffer');
}
