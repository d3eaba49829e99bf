import pLimit from 'p-limit';
import { basename } from 'node:path';
import { isScannedDir, scanDir, type DirScan } from './dirScan.js';
import { childPath, matchesAny, type PathPattern } from './glob.js';
import { beginDirKey, endDirKey, keyContext } from './dirTreeKey.js';

/** A directory as a listing of the whole tree found it, before the walk. */
export interface ScannedDir {
  /** the key of the tree under it (dirTreeKey.ts); undefined when a listing in it failed */
  key?: Buffer;
  /** its listing, kept for the walk while few entries are held (HELD_ENTRIES) */
  scan?: DirScan;
  /** the subdirectories the excludes keep, by raw name (latin1) */
  subdirs: Map<string, ScannedDir>;
}

/**
 * Entries of listings kept for the walk at most (~200 bytes each, names included): beyond them
 * only keys are kept, and a directory the walk has to go through is listed again.
 */
const HELD_ENTRIES = 65_536;
/** Listings running at once in the thread pool (scrypt may hold one of its four threads). */
const SCANS_RUNNING = 3;

const SLASH = Buffer.from('/');

/**
 * Lists a backup's trees before its walk, to know each directory's key from the bottom up: the
 * walk then looks a directory's key up before going into it, and a whole unchanged tree costs
 * one lookup. Runs while scrypt derives the repository's key when the command can start it
 * then (the main thread is idle meanwhile).
 */
export class TreeScanner {
  private held = 0;
  private readonly limit = pLimit(SCANS_RUNNING);

  constructor(private readonly excludes: readonly PathPattern[]) {}

  /** The tree under `dir`, whose path for the excludes is `rel` (as the walk has it). */
  async scan(dir: Buffer, rel: string): Promise<ScannedDir> {
    let scan: DirScan | undefined;
    try {
      scan = await this.limit(() => scanDir(dir));
    } catch {
      // the walk meets the failure again, and reports it
      return { subdirs: new Map() };
    }
    const node: ScannedDir = { subdirs: new Map() };
    const key = beginDirKey(keyContext(this.excludes, rel), scan);
    if (this.held + scan.names.length <= HELD_ENTRIES) {
      node.scan = scan;
      this.held += scan.names.length;
    }
    const names: (Buffer | null)[] = [];
    const children: Promise<ScannedDir>[] = [];
    for (let j = 0; j < scan.names.length; j++) {
      if (!isScannedDir(scan, j)) continue;
      const name = scan.names[j]!;
      const path = childPath(this.excludes, rel, name);
      if (matchesAny(this.excludes, path, true)) {
        names.push(null);
        continue;
      }
      names.push(name);
      children.push(this.scan(Buffer.concat([dir, SLASH, name]), path));
    }
    scan = undefined;
    const done = await Promise.all(children);
    const keys: (Buffer | null)[] = [];
    let known = true;
    let k = 0;
    for (const name of names) {
      if (name === null) {
        keys.push(null);
        continue;
      }
      const child = done[k++]!;
      node.subdirs.set(name.toString('latin1'), child);
      if (!child.key) known = false;
      keys.push(child.key ?? null);
    }
    if (known) node.key = endDirKey(key, keys);
    return node;
  }
}

/**
 * Lists the trees of a backup of `paths` (absolute, as the walk gets them), by path: each as
 * the walk will come to it (one directory is the root; several are entries of the root, by
 * base name).
 */
export async function scanRoots(paths: readonly string[], excludes: readonly PathPattern[]): Promise<Map<string, ScannedDir>> {
  const scanner = new TreeScanner(excludes);
  const roots = await Promise.all(paths.map((p) => scanner.scan(Buffer.from(p), paths.length === 1 ? '' : basename(p) || p)));
  return new Map(paths.map((p, i) => [p, roots[i]!]));
}
