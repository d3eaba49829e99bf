import { basename } from 'node:path';
import { isScannedDir, scanDirs, type DirScan } from './dirScan.js';
import { childPath, matchesAny, type PathPattern } from './glob.js';
import { dirTreeKey, keyContext, scanDigest } from './dirTreeKey.js';

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
/**
 * A level of the tree is listed in as many thread-pool jobs as threads it may use (scrypt may
 * hold one of the four), each of at most DIRS_PER_JOB directories: a job of its own for each
 * directory cost the main thread more than the listing (4 000 directories: ~0.15 s).
 */
const JOBS_PER_LEVEL = 3;
const DIRS_PER_JOB = 64;

const SLASH = Buffer.from('/');

/** A directory being listed: its place in the tree, and its subdirectories (null: left out). */
interface Listing {
  dir: Buffer;
  /** its path as the excludes see it */
  rel: string;
  node: ScannedDir;
  digest?: Buffer;
  subdirs: (Listing | null)[];
}

/**
 * Lists the trees of a backup of `paths` (absolute, as the walk gets them) before its walk,
 * level by level, and gives each directory its key from the bottom up: the walk then looks a
 * directory's key up before going into it, and a whole unchanged tree costs one lookup. By
 * path; each tree as the walk will come to it (one directory is the root; several are entries
 * of the root, by base name). A listing that fails is left for the walk to meet and report.
 */
export async function scanRoots(paths: readonly string[], excludes: readonly PathPattern[]): Promise<Map<string, ScannedDir>> {
  const roots: Listing[] = paths.map((p) => ({ dir: Buffer.from(p), rel: paths.length === 1 ? '' : basename(p) || p, node: { subdirs: new Map() }, subdirs: [] }));
  const levels: Listing[][] = [];
  let held = 0;
  for (let level = roots; level.length > 0; ) {
    levels.push(level);
    const per = Math.min(DIRS_PER_JOB, Math.ceil(level.length / JOBS_PER_LEVEL));
    const jobs: Promise<(DirScan | Error)[]>[] = [];
    for (let i = 0; i < level.length; i += per) jobs.push(scanDirs(level.slice(i, i + per).map((l) => l.dir)));
    const scans = (await Promise.all(jobs)).flat();
    const next: Listing[] = [];
    for (let i = 0; i < level.length; i++) {
      const l = level[i]!;
      const scan = scans[i]!;
      if (scan instanceof Error) continue;
      l.digest = scanDigest(keyContext(excludes, l.rel), scan);
      if (held + scan.names.length <= HELD_ENTRIES) {
        l.node.scan = scan;
        held += scan.names.length;
      }
      for (let j = 0; j < scan.names.length; j++) {
        if (!isScannedDir(scan, j)) continue;
        const name = scan.names[j]!;
        const rel = childPath(excludes, l.rel, name);
        if (matchesAny(excludes, rel, true)) {
          l.subdirs.push(null);
          continue;
        }
        const sub: Listing = { dir: Buffer.concat([l.dir, SLASH, name]), rel, node: { subdirs: new Map() }, subdirs: [] };
        l.node.subdirs.set(name.toString('latin1'), sub.node);
        l.subdirs.push(sub);
        next.push(sub);
      }
    }
    level = next;
  }
  // keys from the bottom up: a directory's needs its subdirectories'
  for (let d = levels.length - 1; d >= 0; d--) {
    for (const l of levels[d]!) {
      if (!l.digest || l.subdirs.some((s) => s !== null && !s.node.key)) continue;
      l.node.key = dirTreeKey(l.digest, l.subdirs.map((s) => (s === null ? null : s.node.key!)));
    }
  }
  return new Map(paths.map((p, i) => [p, roots[i]!.node]));
}
