import { promises as fsp, type BigIntStats } from 'node:fs';
import * as path from 'node:path';
import { errnoCode, OcvaultError } from '../../errors/OcvaultError.js';
import type { Repository } from '../../repo/repository.js';
import { FILES_IN_FLIGHT_PER_WORKER, type BlobWorkers } from '../../repo/blobWorkers.js';
import { encodeTree, nodeKey, sameNode, sortNodes, type Tree, type TreeNode } from '../../repo/tree.js';
import type { BlobId } from '../../repo/blobId.js';
import { TreeLoader } from '../../repo/treeLoader.js';
import { childPath, matchesAny, type PathPattern } from './glob.js';
import { printablePath } from './printable.js';
import { FileSlots } from './fileSlots.js';
import { fileNodeFromRead, linkTarget, sameFileStat } from './fileNode.js';
import { dirTreeKey, keyContext, scanDigest } from './dirTreeKey.js';
import { scanRoots, type ScannedDir } from './scanTree.js';
import { LocalIndex, type DirTree } from '../../repo/localIndex.js';
import { DirScanner, entryStatOf, isScannedDir, scanError, scannedSize, scannedStat, scannedType, type DirScan, type EntryStat } from './dirScan.js';

export interface ArchiveProgress {
  files: number;
  dirs: number;
  bytes: number;
  /** bytes of files read and chunked so far */
  readBytes: number;
  newFiles: number;
  changedFiles: number;
  unchangedFiles: number;
  addedBytes: number;
  addedBlobs: number;
  errors: number;
}

export interface ArchiveOptions {
  excludes: readonly PathPattern[];
  /** re-read every file even when it looks unchanged */
  readAll: boolean;
  /** root tree of the parent snapshot, for change detection */
  parentTree?: BlobId;
  /**
   * Take a directory's tree as an earlier backup saved it when the key of the tree under it is
   * the same (dirTreeKey.ts), without walking it or loading the parent snapshot's trees. For
   * incremental backups: a full reads every file, and a differential compares with its full.
   */
  reuseDirTrees: boolean;
  /** the listing of the paths' trees (scanRoots), when it was started before the walk */
  scanned?: Promise<Map<string, ScannedDir>>;
  onWarning: (message: string) => void;
  /** things worth saying that lose nothing (a socket left out) */
  onNote?: (message: string) => void;
}

/** Directory entries handled at once; enough to keep the workers fed. */
const ENTRY_BATCH = 32;
/**
 * Files waiting for a worker at which the walk pauses, and at which it goes on. Unpaused, the
 * walk ran thousands of files ahead of the workers, each waiting with its path, node, promise
 * and closures: 8 000 of them were 2/3 of the main thread's live heap, which V8 then let grow
 * to 49 MiB (2 GiB bench tree).
 */
const WALK_PAUSE = 128;
const WALK_RESUME = 64;
const SLASH = Buffer.from('/');

/** A directory of the parent snapshot: its entries by raw name, and its tree id when it could be read. */
interface ParentDir {
  id?: BlobId;
  nodes: Map<string, TreeNode>;
}

/** A saved directory: what the tree under it holds, and its key (see subtreeOf). */
interface Subtree {
  key?: Buffer;
  /** regular files and their bytes, and directories, under it (itself not counted) */
  files: number;
  bytes: number;
  dirs: number;
}

/**
 * A parent snapshot's directory, loaded when first asked for: only the directories the walk
 * goes into ask, not those whose trees are remembered (ArchiveOptions.reuseDirTrees).
 */
type ParentRef = () => Promise<ParentDir>;

/** The parent of a directory that has none (a first backup, a new directory): shared, not made for each. */
const NO_PARENT: ParentRef = ((empty: Promise<ParentDir>) => () => empty)(Promise.resolve({ nodes: new Map() }));

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => (loaded ??= load());
}

/**
 * The directory trees a backup saved, kept compact until they are recorded at its end: ~64
 * bytes each instead of two objects, a key buffer and an id string (~1 MiB for the bench
 * tree's 4 000 directories).
 */
class SavedDirTrees implements Iterable<{ key: Buffer; tree: DirTree }> {
  /** each directory's key and tree id, 32 bytes each, back to back */
  private ids = Buffer.allocUnsafe(64 * 256);
  /** files, bytes and dirs of each */
  private readonly counts: number[] = [];

  get size(): number {
    return this.counts.length / 3;
  }

  push(key: Buffer, tree: BlobId, subtree: Subtree): void {
    const at = this.size * 64;
    if (at + 64 > this.ids.length) {
      const more = Buffer.allocUnsafe(this.ids.length * 2);
      this.ids.copy(more, 0, 0, at);
      this.ids = more;
    }
    key.copy(this.ids, at);
    this.ids.write(tree, at + 32, 'hex');
    this.counts.push(subtree.files, subtree.bytes, subtree.dirs);
  }

  *[Symbol.iterator](): Iterator<{ key: Buffer; tree: DirTree }> {
    for (let i = 0; i < this.size; i++) {
      const c = i * 3;
      const at = i * 64;
      yield { key: this.ids.subarray(at, at + 32), tree: { tree: this.ids.toString('hex', at + 32, at + 64), files: this.counts[c]!, bytes: this.counts[c + 1]!, dirs: this.counts[c + 2]!, used: 0 } };
    }
  }
}

/** The keys of a listed directory and of every directory under it. */
function keysUnder(dir: ScannedDir): Buffer[] {
  const keys: Buffer[] = [];
  const visit = (d: ScannedDir): void => {
    if (d.key) keys.push(d.key);
    for (const sub of d.subdirs.values()) visit(sub);
  };
  visit(dir);
  return keys;
}

function sameAs(node: TreeNode, parent: TreeNode | undefined): boolean {
  return parent !== undefined && (node === parent || sameNode(node, parent));
}

/**
 * Saves directory trees into the repository: directories become tree blobs, files are chunked
 * in the workers, unchanged files reuse their parent's chunk list without being read.
 */
export class Archiver {
  readonly progress: ArchiveProgress = { files: 0, dirs: 0, bytes: 0, readBytes: 0, newFiles: 0, changedFiles: 0, unchangedFiles: 0, addedBytes: 0, addedBlobs: 0, errors: 0 };
  readonly warnings: string[] = [];
  readonly notes: string[] = [];
  private readonly fileSlots: FileSlots;
  /** directory walks paused until fewer files wait (see WALK_PAUSE) */
  private paused: (() => void)[] = [];
  /** directories listed ahead of the walk, in the thread pool */
  private readonly scans = new DirScanner();
  /** directory trees to remember, and remembered ones used (see recordDirTrees) */
  private readonly savedDirTrees = new SavedDirTrees();
  private readonly usedDirTrees: Buffer[] = [];
  /** What each saved subdirectory's node holds, until its parent's subtreeOf takes it. */
  private readonly subtrees = new Map<TreeNode, Subtree>();
  /** seconds since the epoch, as remembered trees are stamped */
  private readonly now = Math.floor(Date.now() / 1000);

  constructor(private readonly repo: Repository, private readonly workers: BlobWorkers, private readonly opts: ArchiveOptions) {
    // Files in flight: too few leave a worker idle whenever the main thread is busy walking a
    // directory as the worker's last file finishes (A/B, 2 GiB tree, one file a message: 2 per
    // worker 5.2-6.1 s, 4 per worker 4.8-5.1 s, same CPU).
    this.fileSlots = new FileSlots(workers.size * FILES_IN_FLIGHT_PER_WORKER);
    this.trees = new TreeLoader(repo);
  }

  private warn(message: string): void {
    this.progress.errors++;
    this.warnings.push(message);
    this.opts.onWarning(message);
  }

  private readonly trees: TreeLoader;

  private async loadTree(id: BlobId | undefined): Promise<ParentDir> {
    if (!id) return { nodes: new Map() };
    try {
      const tree = await this.trees.load(id);
      return { id, nodes: new Map(tree.nodes.map((n) => [nodeKey(n), n])) };
    } catch (e) {
      // A damaged parent only costs re-reading; the new snapshot stays complete.
      if (e instanceof OcvaultError) return { nodes: new Map() };
      throw e;
    }
  }

  private async saveTree(nodes: TreeNode[]): Promise<BlobId> {
    const { id, added } = await this.repo.saveBlob('tree', encodeTree({ nodes: sortNodes(nodes) }));
    if (added) {
      this.progress.addedBytes += added;
      this.progress.addedBlobs++;
    }
    return id;
  }

  /**
   * Saves the given absolute paths: one directory becomes the root itself; otherwise the root
   * lists each path by its base name.
   */
  async saveRoots(paths: readonly string[]): Promise<BlobId> {
    const parentRoot = this.opts.parentTree === undefined ? NO_PARENT : once(() => this.loadTree(this.opts.parentTree));
    // every directory's key, from the bottom up, when remembered trees may stand for them
    const scanned = this.opts.reuseDirTrees ? await (this.opts.scanned ?? scanRoots(paths, this.opts.excludes)) : undefined;
    if (paths.length === 1) {
      const st = await this.lstatRoot(paths[0]!);
      if (st.isDirectory()) {
        this.progress.dirs++;
        return (await this.saveDir(Buffer.from(paths[0]!), '', parentRoot, scanned?.get(paths[0]!))).id;
      }
    }
    const nodes: TreeNode[] = [];
    const seen = new Set<string>();
    const roots: ScannedDir = { subdirs: new Map() };
    for (const p of paths) {
      const base = path.basename(p) || p;
      if (seen.has(base)) throw new OcvaultError('Usage', `two paths share the base name ${base}; back them up separately`);
      seen.add(base);
      const root = scanned?.get(p);
      if (root) roots.subdirs.set(Buffer.from(base).toString('latin1'), root);
      const st = await this.lstatRoot(p);
      const node = await this.entry(Buffer.from(p), Buffer.from(base), base, (await parentRoot()).nodes.get(Buffer.from(base).toString('latin1')), parentRoot, roots, entryStatOf(st));
      if (node) nodes.push(node);
    }
    return this.saveTree(nodes);
  }

  /** A root's lstat: one that is missing or unreadable is an error, not a warning. */
  private async lstatRoot(p: string): Promise<BigIntStats> {
    try {
      return await fsp.lstat(p, { bigint: true });
    } catch (e) {
      throw new OcvaultError('SourceError', `cannot back up ${p}: ${errnoCode(e) === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`, { path: p });
    }
  }

  /**
   * Saves a directory. `scanned`: what the listing of the whole tree found of it, whose key
   * may name a tree remembered for it (then neither it nor anything under it is walked).
   */
  private async saveDir(abs: Buffer, rel: string, parent: ParentRef, scanned?: ScannedDir): Promise<{ id: BlobId; subtree: Subtree }> {
    if (this.opts.reuseDirTrees && scanned?.key) {
      const known = this.repo.index.dirTree(scanned.key);
      if (known) {
        this.progress.files += known.files;
        this.progress.unchangedFiles += known.files;
        this.progress.bytes += known.bytes;
        this.progress.dirs += known.dirs;
        // the trees under it are in use too, though not looked up: they stay remembered with it
        if (LocalIndex.dirTreeStale(known, this.now)) this.usedDirTrees.push(...keysUnder(scanned));
        return { id: known.tree, subtree: { key: scanned.key, files: known.files, bytes: known.bytes, dirs: known.dirs } };
      }
    }
    const held = scanned?.scan;
    if (scanned) scanned.scan = undefined;
    let scan: DirScan;
    try {
      scan = held ?? (await this.scans.take(abs));
    } catch (e) {
      this.warn(`cannot read directory ${printablePath(abs)}: ${errnoCode(e) ?? (e as Error).message}`);
      return { id: await this.saveTree([]), subtree: { files: 0, bytes: 0, dirs: 0 } };
    }
    const names = scan.names;
    // its subdirectories are listed while this one is compared, unless the whole tree's listing holds them
    for (let j = 0; j < names.length; j++) {
      if (!isScannedDir(scan, j) || scanned?.subdirs.get(names[j]!.toString('latin1'))?.scan) continue;
      if (!matchesAny(this.opts.excludes, this.relOf(rel, names[j]!), true)) this.scans.prefetch(Buffer.concat([abs, SLASH, names[j]!]));
    }
    // each entry's node, by its place in the scan (undefined: left out)
    const entries: (TreeNode | undefined)[] = new Array<TreeNode | undefined>(names.length);
    await this.saveEntries(abs, rel, scan, parent, scanned, entries);
    const nodes = entries.filter((n): n is TreeNode => n !== undefined);
    // Every entry as the parent snapshot has it: this is the parent's tree, whose id needs no
    // encoding, hashing and index lookup of the same bytes again (an unchanged backup of the
    // bench tree spent ~0.2 s of its 1.8 on that).
    const p = await parent();
    const id = p.id !== undefined && nodes.length === p.nodes.size && nodes.every((n) => sameAs(n, p.nodes.get(nodeKey(n)))) ? p.id : await this.saveTree(nodes);
    const subtree = this.subtreeOf(scan, rel, entries);
    if (subtree.key) this.savedDirTrees.push(subtree.key, id, subtree);
    return { id, subtree };
  }

  private relOf(rel: string, name: Buffer): string {
    return childPath(this.opts.excludes, rel, name);
  }

  /** Saves a scan's entries into `entries`, a batch at a time, so a large tree is never all in flight at once. */
  private async saveEntries(abs: Buffer, rel: string, scan: DirScan, parent: ParentRef, scanned: ScannedDir | undefined, entries: (TreeNode | undefined)[]): Promise<void> {
    const names = scan.names;
    const p = await parent();
    const fresh = p.nodes.size === 0;
    for (let i = 0; i < names.length; i += ENTRY_BATCH) {
      while (this.fileSlots.waiting >= WALK_PAUSE) await new Promise<void>((resume) => this.paused.push(resume));
      let waits = false;
      const batch: (TreeNode | undefined | Promise<TreeNode | undefined>)[] = [];
      const places: number[] = [];
      for (let j = i; j < Math.min(i + ENTRY_BATCH, names.length); j++) {
        const name = names[j]!;
        const childAbs = Buffer.concat([abs, SLASH, name]);
        const failed = scanError(scan, j);
        if (failed) {
          this.entryFailed(childAbs, failed);
          continue;
        }
        const entry = this.entry(childAbs, name, this.relOf(rel, name), fresh ? undefined : p.nodes.get(name.toString('latin1')), parent, scanned, scannedStat(scan, j));
        if (entry instanceof Promise) waits = true;
        batch.push(entry);
        places.push(j);
      }
      // a batch of unchanged files is done without a promise each
      const done = waits ? await Promise.all(batch) : (batch as (TreeNode | undefined)[]);
      for (let k = 0; k < done.length; k++) entries[places[k]!] = done[k];
    }
  }

  /**
   * What a saved directory holds, and its key when a backup that finds the same key may take
   * its tree as it is. It may not when an entry was lost with a warning or a note (it could not
   * be read, vanished, was a socket), here or in a subdirectory.
   */
  private subtreeOf(scan: DirScan, rel: string, entries: readonly (TreeNode | undefined)[]): Subtree {
    const out: Subtree = { files: 0, bytes: 0, dirs: 0 };
    const subdirKeys: (Buffer | null)[] = [];
    let whole = true;
    for (let j = 0; j < entries.length; j++) {
      if (scanError(scan, j)) {
        whole = false;
        continue;
      }
      const node = entries[j];
      const type = scannedType(scan, j);
      if (node === undefined) {
        // left out by an exclude, or else with a warning or note (a socket)
        if (!matchesAny(this.opts.excludes, this.relOf(rel, scan.names[j]!), type === 'dir')) whole = false;
        if (type === 'dir') subdirKeys.push(null);
      } else if (type === 'dir') {
        const sub = this.subtrees.get(node);
        this.subtrees.delete(node);
        if (!sub?.key) whole = false;
        subdirKeys.push(sub?.key ?? null);
        out.files += sub?.files ?? 0;
        out.bytes += sub?.bytes ?? 0;
        out.dirs += 1 + (sub?.dirs ?? 0);
      } else if (type === 'file') {
        // A file that changed between the scan and its read has the node of what was read,
        // not the scan's: its key names a scan no later backup will see again (ctime moved).
        out.files++;
        out.bytes += scannedSize(scan, j);
      }
    }
    if (whole) out.key = dirTreeKey(scanDigest(keyContext(this.opts.excludes, rel), scan), subdirKeys);
    return out;
  }

  /**
   * Remembers the directory trees this backup saved, for the next one. Called once everything
   * it stored is indexed: a remembered tree must never name a blob that is not.
   */
  recordDirTrees(): void {
    if (this.savedDirTrees.size > 0 || this.usedDirTrees.length > 0) this.repo.index.recordDirTrees(this.savedDirTrees, this.usedDirTrees, this.now);
  }

  /**
   * One directory entry, from its lstat: its node at once when nothing more is to be read (an
   * unchanged file, a device), else a promise of it; undefined when excluded.
   */
  private entry(abs: Buffer, name: Buffer, rel: string, parentNode: TreeNode | undefined, parent: ParentRef, scanned: ScannedDir | undefined, st: EntryStat): TreeNode | undefined | Promise<TreeNode | undefined> {
    // a file where the parent had a directory or link is read as any changed file (the
    // worker's fstat gives its node)
    if (st.type === 'file') return this.fileEntry(abs, name, rel, st, parentNode);
    const type = st.type;
    if (matchesAny(this.opts.excludes, rel, type === 'dir')) return undefined;
    if (!type) {
      // A socket has no content; the program that listens on it creates it again.
      this.notes.push(`${printablePath(abs)}: socket left out (a socket cannot be restored)`);
      this.opts.onNote?.(this.notes[this.notes.length - 1]!);
      return undefined;
    }
    const node = st.node(name);
    if (type === 'dir') return this.saveSubdir(abs, rel, node, this.subdirOf(parent, name), scanned?.subdirs.get(name.toString('latin1')));
    if (type === 'symlink') return this.saveLink(abs, node);
    // FIFOs and devices are kept as metadata; a FIFO is never opened (a read would block).
    return node;
  }

  /** A regular file: unchanged, or read in a worker (whose fstat gives its node). */
  private fileEntry(abs: Buffer, name: Buffer, rel: string, st: EntryStat, parentNode: TreeNode | undefined): TreeNode | undefined | Promise<TreeNode | undefined> {
    if (matchesAny(this.opts.excludes, rel, false)) return undefined;
    this.progress.files++;
    this.progress.bytes += st.size;
    if (!this.opts.readAll && parentNode && sameFileStat(st, parentNode)) {
      this.progress.unchangedFiles++;
      // The parent's node itself: the same ctime means the same mode, owner, size and times it
      // recorded (chmod and chown move ctime too). A node each was a tenth of an unchanged
      // backup's allocation, and the directory's check below is then a comparison of objects.
      return parentNode;
    }
    return this.readFile(abs, name, parentNode, st.size);
  }

  /** An entry whose lstat failed: a warning (it vanished, or cannot be read). */
  private entryFailed(abs: Buffer, code: string): void {
    this.warn(code === 'ENOENT' ? `${printablePath(abs)} vanished before it could be read` : `cannot read ${printablePath(abs)}: ${code}`);
  }

  private async saveSubdir(abs: Buffer, rel: string, node: TreeNode, parent: ParentRef, scanned: ScannedDir | undefined): Promise<TreeNode> {
    this.progress.dirs++;
    const saved = await this.saveDir(abs, rel, parent, scanned);
    node.subtree = saved.id;
    this.subtrees.set(node, saved.subtree);
    return node;
  }

  /** The parent snapshot's directory `name` in `parent`, loaded when first asked for. */
  private subdirOf(parent: ParentRef, name: Buffer): ParentRef {
    if (parent === NO_PARENT) return NO_PARENT;
    return once(async () => {
      const node = (await parent()).nodes.get(name.toString('latin1'));
      return node?.type === 'dir' ? this.loadTree(node.subtree) : { nodes: new Map() };
    });
  }

  private async saveLink(abs: Buffer, node: TreeNode): Promise<TreeNode | undefined> {
    try {
      Object.assign(node, linkTarget(await fsp.readlink(abs, { encoding: 'buffer' })));
    } catch (e) {
      this.warn(`cannot read link ${printablePath(abs)}: ${errnoCode(e) ?? (e as Error).message}`);
      return undefined;
    }
    return node;
  }

  /**
   * Called as a file starts: paused walks go on once few files wait. Every paused walk is woken
   * and checks again, so none can be left waiting on a queue that has emptied.
   */
  private resumeWalks(): void {
    if (this.paused.length === 0 || this.fileSlots.waiting >= WALK_RESUME) return;
    const paused = this.paused;
    this.paused = [];
    for (const resume of paused) resume();
  }

  /**
   * Chunks a new or changed file in a worker; undefined (and a warning) when it cannot be read.
   * Its node is that of the descriptor read. `counted`: the bytes progress counted for it already.
   */
  private async readFile(abs: Buffer, name: Buffer, parentNode: TreeNode | undefined, counted: number): Promise<TreeNode | undefined> {
    const wait = this.fileSlots.take();
    if (wait) await wait;
    try {
      this.resumeWalks();
      try {
        const result = await this.workers.chunkFile(abs, counted);
        this.progress.addedBytes += result.added.bytes;
        this.progress.addedBlobs += result.added.blobs;
        this.progress.readBytes += result.size;
        this.progress.bytes += result.size - counted;
        if (parentNode) this.progress.changedFiles++;
        else this.progress.newFiles++;
        if (result.changed) {
          this.warn(`${printablePath(abs)} changed while it was read; the saved copy may be inconsistent`);
        }
        const node = fileNodeFromRead(name, result.before, result.size);
        node.content = result.content;
        return node;
      } catch (e) {
        if (e instanceof OcvaultError) throw e;
        const code = errnoCode(e);
        if (code === 'ENOENT') this.warn(`${printablePath(abs)} vanished before it could be read`);
        else if (code === 'EACCES' || code === 'EPERM') this.warn(`cannot read ${printablePath(abs)}: permission denied`);
        else if (code === 'ELOOP') this.warn(`${printablePath(abs)} was replaced by a symlink while being read`);
        else if (code === 'ENOTREG') this.warn(`${printablePath(abs)} was replaced by something other than a file while being read`);
        else if (code === 'EIO' || code === 'EISDIR' || code === 'ENXIO' || code === 'EAGAIN') this.warn(`cannot read ${printablePath(abs)}: ${code}`);
        else throw e;
        this.progress.files--;
        this.progress.bytes -= counted;
        return undefined;
      }
    } finally {
      this.fileSlots.give();
    }
  }
}

export type { Tree };
