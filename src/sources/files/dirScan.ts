import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { nativeAddon } from '../../storage/nativeAddon.js';
import type { NodeType, TreeNode } from '../../repo/tree.js';
import { msOfNs, nodeFromFields, nodeFromStat, nodeType, nodeTypeOfMode } from './fileNode.js';

/**
 * A directory listed with the lstat of every entry, names in Buffer.compare order. The addon
 * does it in a thread-pool job (native/aead, scanDirs), so a backup's walk can have its next
 * directories listed on the other core while it compares this one: listing and lstat were
 * ~0.3 s of an unchanged backup's ~1.2 s on the main thread. Columnar, as the addon gives it:
 * one Float64Array of FIELDS numbers per entry, not an object each.
 */
export interface DirScan {
  readonly names: Buffer[];
  readonly fields: Float64Array;
  /** the addon's buffer, which holds both (for hashing the scan in one piece) */
  readonly bytes?: Buffer;
}

/** The addon's layout of an entry's numbers. */
const FIELDS = 12;
const ERRNO = 0;
const MODE = 1;
const UID = 2;
const GID = 3;
const SIZE = 4;
const INO = 5;
const RDEV = 6;
const MTIME_S = 7;
const MTIME_NS = 8;
const CTIME_S = 9;
const CTIME_NS = 10;
const NAME_LENGTH = 11;

/** What a walk needs of an entry's lstat, from a scan or from lstat itself. */
export interface EntryStat {
  /** undefined: a socket */
  readonly type: NodeType | undefined;
  readonly size: number;
  readonly ino: number;
  /** as node's plain lstat gives them (fileNode.ts: msOfNs) */
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  /** the entry's tree node (metadata only: content, subtree or target are the caller's) */
  node(raw: Buffer): TreeNode;
}

const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

/** An errno error as node's fs calls throw them (a `code` to tell ENOENT from the rest). */
function errnoError(errno: number, syscall: string, path: Buffer): Error {
  const code = errnoNames.get(errno) ?? `E${errno}`;
  return Object.assign(new Error(`${code}: ${syscall} '${path.toString()}'`), { code, errno: -errno, syscall });
}

/** Lists `dir`; rejects as readdir would (ENOENT, EACCES, ENOTDIR); with the addon, a link put in its place is not followed (ENOTDIR). */
export async function scanDir(dir: Buffer): Promise<DirScan> {
  if (!nativeAddon()?.scanDirs) return scanDirSync(dir);
  const [scan] = await scanDirs([dir]);
  if (scan instanceof Error) throw scan;
  return scan!;
}

/**
 * Lists several directories in one thread-pool job where the addon can (a job costs the main
 * thread more than listing a small directory), else one after another; each as scanDir would
 * give it, or the error it would reject with.
 */
export async function scanDirs(dirs: readonly Buffer[]): Promise<(DirScan | Error)[]> {
  const native = nativeAddon()?.scanDirs;
  if (!native) return Promise.all(dirs.map((d) => scanDir(d).catch((e: Error) => e)));
  const results = await native(Buffer.concat(dirs.flatMap((d) => [d, NUL])));
  return results.map((r, i) => (typeof r === 'number' ? errnoError(r, 'scandir', dirs[i]!) : decodeScan(r)));
}

const NUL = Buffer.alloc(1);

/** The addon's buffer for a directory (see scan_one in native/aead/aead.c): a count, the names' offset, the numbers, the names. */
function decodeScan(bytes: Buffer): DirScan {
  const count = bytes.readUInt32LE(0);
  let at = bytes.readUInt32LE(4);
  // a buffer of its own (napi_create_buffer_copy), so 8-aligned: the numbers are read in place
  const fields = new Float64Array(bytes.buffer, bytes.byteOffset + 8, count * FIELDS);
  const names: Buffer[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const n = fields[i * FIELDS + NAME_LENGTH]!;
    names[i] = bytes.subarray(at, at + n);
    at += n;
  }
  return { names, fields, bytes };
}

/** The scan's bytes as hashing takes them: the numbers, then the names (their lengths are among the numbers). */
export function scanParts(scan: DirScan): Uint8Array[] {
  if (scan.bytes) return [scan.bytes];
  return [new Uint8Array(scan.fields.buffer, scan.fields.byteOffset, scan.fields.byteLength), ...scan.names];
}

/** Without the addon: readdir and a BigInt lstat of each entry, here and now, in the same layout. */
export function scanDirSync(dir: Buffer): DirScan {
  const names = readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare);
  const fields = new Float64Array(names.length * FIELDS);
  const slash = Buffer.from('/');
  for (const [i, name] of names.entries()) {
    const f = i * FIELDS;
    fields[f + NAME_LENGTH] = name.length;
    let st: BigIntStats;
    try {
      st = lstatSync(Buffer.concat([dir, slash, name]), { bigint: true });
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      fields[f + ERRNO] = typeof errno === 'number' && errno !== 0 ? Math.abs(errno) : osConstants.errno.EIO;
      continue;
    }
    fields[f + MODE] = Number(st.mode);
    fields[f + UID] = Number(st.uid);
    fields[f + GID] = Number(st.gid);
    fields[f + SIZE] = Number(st.size);
    fields[f + INO] = Number(st.ino);
    fields[f + RDEV] = Number(st.rdev);
    const [ms, mns] = secondsAndNanos(st.mtimeNs);
    fields[f + MTIME_S] = ms;
    fields[f + MTIME_NS] = mns;
    const [cs, cns] = secondsAndNanos(st.ctimeNs);
    fields[f + CTIME_S] = cs;
    fields[f + CTIME_NS] = cns;
  }
  return { names, fields };
}

function secondsAndNanos(ns: bigint): [number, number] {
  let s = ns / 1_000_000_000n;
  let n = ns % 1_000_000_000n;
  if (n < 0n) {
    s -= 1n;
    n += 1_000_000_000n;
  }
  return [Number(s), Number(n)];
}

/** The errno code of entry `i`'s lstat when it failed (ENOENT: it vanished since the listing). */
export function scanError(scan: DirScan, i: number): string | undefined {
  const errno = scan.fields[i * FIELDS + ERRNO]!;
  return errno === 0 ? undefined : (errnoNames.get(errno) ?? `E${errno}`);
}

/** Whether entry `i` is a directory (an lstat that failed is not). */
export function isScannedDir(scan: DirScan, i: number): boolean {
  return scan.fields[i * FIELDS + ERRNO] === 0 && nodeTypeOfMode(scan.fields[i * FIELDS + MODE]!) === 'dir';
}

/** Entry `i`'s type (undefined: a socket) and size, without an EntryStat (its lstat must not have failed). */
export function scannedType(scan: DirScan, i: number): NodeType | undefined {
  return nodeTypeOfMode(scan.fields[i * FIELDS + MODE]!);
}

export function scannedSize(scan: DirScan, i: number): number {
  return scan.fields[i * FIELDS + SIZE]!;
}

/** Nanoseconds since the epoch as the decimal text trees keep (BigIntStats' mtimeNs.toString()). */
function nsText(seconds: number, nanos: number): string {
  if (seconds > 0) return `${seconds}${String(nanos).padStart(9, '0')}`;
  return (BigInt(seconds) * 1_000_000_000n + BigInt(nanos)).toString();
}

/** Entry `i` of a scan as an EntryStat (its lstat must not have failed: see scanError). */
class ScannedEntry implements EntryStat {
  readonly type: NodeType | undefined;
  readonly size: number;
  readonly ino: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;

  constructor(private readonly scan: DirScan, private readonly at: number) {
    const f = scan.fields;
    this.type = nodeTypeOfMode(f[at + MODE]!);
    this.size = f[at + SIZE]!;
    this.ino = f[at + INO]!;
    // node's own arithmetic for a plain lstat's times
    this.mtimeMs = f[at + MTIME_S]! * 1e3 + f[at + MTIME_NS]! / 1e6;
    this.ctimeMs = f[at + CTIME_S]! * 1e3 + f[at + CTIME_NS]! / 1e6;
  }

  node(raw: Buffer): TreeNode {
    const f = this.scan.fields;
    const at = this.at;
    return nodeFromFields(raw, this.type!, {
      mode: f[at + MODE]! & 0o7777,
      mtimeNs: nsText(f[at + MTIME_S]!, f[at + MTIME_NS]!),
      ctimeNs: nsText(f[at + CTIME_S]!, f[at + CTIME_NS]!),
      inode: this.ino,
      uid: f[at + UID]!,
      gid: f[at + GID]!,
      size: this.size,
      rdev: f[at + RDEV]!,
    });
  }
}

export function scannedStat(scan: DirScan, i: number): EntryStat {
  return new ScannedEntry(scan, i * FIELDS);
}

/** A BigInt lstat as an EntryStat (the roots of a backup, which no scan lists). */
class LstatEntry implements EntryStat {
  readonly type: NodeType | undefined;
  readonly size: number;
  readonly ino: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;

  constructor(private readonly st: BigIntStats) {
    this.type = nodeType(st);
    this.size = Number(st.size);
    this.ino = Number(st.ino);
    this.mtimeMs = msOfNs(st.mtimeNs.toString());
    this.ctimeMs = msOfNs(st.ctimeNs.toString());
  }

  node(raw: Buffer): TreeNode {
    return nodeFromStat(raw, this.type!, this.st);
  }
}

export function entryStatOf(st: BigIntStats): EntryStat {
  return new LstatEntry(st);
}

/** Scans running at once: each holds a thread-pool thread, which pack writes share. */
const SCANS_RUNNING = 2;
/**
 * Directories listed ahead of the walk at most: it needs only the next few, and a listing
 * holds ~100 bytes per entry until the walk takes it.
 */
const SCANS_AHEAD = 64;

function ignore(): void {}

/**
 * Directory scans for a walk: `prefetch` lists a directory the walk will come to (its
 * subdirectories, as it lists their parent), `take` gives its scan (started then if it was
 * not). Without the addon nothing is listed ahead: scans are then synchronous.
 */
export class DirScanner {
  private readonly ahead = new Map<string, { dir: Buffer; scan?: Promise<DirScan> }>();
  /** keys of `ahead` not started yet, in the order asked */
  private queue: string[] = [];
  private running = 0;

  take(dir: Buffer): Promise<DirScan> {
    const key = dir.toString('latin1');
    const a = this.ahead.get(key);
    if (!a) return this.run(dir);
    this.ahead.delete(key);
    return a.scan ?? this.run(dir);
  }

  prefetch(dir: Buffer): void {
    if (this.ahead.size >= SCANS_AHEAD || !nativeAddon()?.scanDirs) return;
    const key = dir.toString('latin1');
    if (this.ahead.has(key)) return;
    this.ahead.set(key, { dir });
    this.queue.push(key);
    this.startQueued();
  }

  private startQueued(): void {
    while (this.running < SCANS_RUNNING && this.queue.length > 0) {
      const a = this.ahead.get(this.queue.shift()!);
      // taken (and started) meanwhile, or started already
      if (!a || a.scan) continue;
      a.scan = this.run(a.dir);
      // a scan never taken (the walk failed) must not be an unhandled rejection
      a.scan.catch(ignore);
    }
  }

  private run(dir: Buffer): Promise<DirScan> {
    this.running++;
    const scan = scanDir(dir);
    scan
      .finally(() => {
        this.running--;
        this.startQueued();
      })
      .catch(ignore);
    return scan;
  }
}
