import { promises as fsp, chmodSync, lchownSync, lstatSync, lutimesSync, mkdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { errnoCode, OcvaultError } from '../../errors/OcvaultError.js';
import type { Repository } from '../../repo/repository.js';
import type { BlobLocation } from '../../repo/localIndex.js';
import { decodeTree, nodeNameBytes, nodeTargetBytes, type TreeNode } from '../../repo/tree.js';
import type { BlobId } from '../../repo/blobId.js';
import { removeIfPresentSync, writeAtSync } from '../../repo/fileWrite.js';
import { BlobWriteFailure, type BlobTarget, type BlobWrite, type FileMeta } from '../../repo/blobWrites.js';
import { matchesAny, type PathPattern } from './glob.js';
import { printablePath } from './printable.js';
import { PathArena } from './pathArena.js';

export interface RestoreProgress {
  files: number;
  dirs: number;
  symlinks: number;
  /** FIFOs and device nodes */
  specials: number;
  bytes: number;
}

export interface RestoreOptions {
  includes: readonly PathPattern[];
  /** restore owners too (only root can) */
  owners: boolean;
}

interface PlannedFile {
  abs: Buffer;
  node: TreeNode;
}

interface FileState {
  file: PlannedFile;
  /** blobs still to write */
  remaining: number;
  /** blobs in all */
  blobs: number;
  size: number;
}

interface BlobUse {
  loc: BlobLocation;
  state: FileState;
  offset: number;
}

/** A stretch of one pack read at once, and the blob uses that lie in it. */
interface Piece {
  pack: string;
  from: number;
  to: number;
  uses: BlobUse[];
}

interface PlannedDir {
  abs: Buffer;
  node: TreeNode;
}

const EMPTY = Buffer.alloc(0);
/**
 * Size of a pooled pack read buffer and the most one read takes of a pack (a larger blob gets a
 * buffer of its own). Reading a whole 16 MiB pack at once held two 18 MiB buffers for the two
 * packs in flight; 4 MiB reads were as fast (bench restore: peak RSS 220 -> 184 MiB, same CPU).
 * With four pieces in flight, reads of 2 MiB held as much as two of 4 MiB had (four 4 MiB
 * pieces: +10 MiB peak RSS for no clear gain).
 */
const READ_BUFFER = 2 * 1024 * 1024;
/**
 * Pieces read or being written at once, each in a read buffer of its own: reading the next
 * one while the workers write keeps both workers fed. Each piece in flight also holds the
 * blobs the workers opened from it until they are written: 4 pieces peaked at 176 MiB RSS in
 * the bench restore, 3 at 160, 2 at 154 MiB, in the same time (10-12 s on this VM).
 */
const PIECES_IN_FLIGHT = 2;

function writeError(state: FileState, e: unknown): Error {
  if (e instanceof OcvaultError) return e;
  return new OcvaultError('StorageError', `cannot write ${printablePath(state.file.abs)}: ${errnoCode(e) === 'ENOSPC' ? 'no space left on device' : (e as Error).message}`, { file: state.file.abs.toString() });
}

/**
 * Restores a tree under a target directory: directories first, files in parallel (blobs
 * verified against their ids as they are read), then directory modes and times bottom-up so
 * writing files does not disturb them. Names come from validated trees, so nothing lands
 * outside the target; existing symlinks in the way are replaced, never followed.
 */
export class Restorer {
  readonly progress: RestoreProgress = { files: 0, dirs: 0, symlinks: 0, specials: 0, bytes: 0 };
  /** entries that could not be recreated (a device node without root) */
  readonly warnings: string[] = [];
  private readonly files: PlannedFile[] = [];
  private readonly dirs: PlannedDir[] = [];
  private readonly links: PlannedFile[] = [];
  private readonly specials: PlannedFile[] = [];
  private readonly paths = new PathArena();

  constructor(private readonly repo: Repository, private readonly opts: RestoreOptions) {}

  /** Walks the trees and decides what to restore; returns the number of bytes to write. */
  async plan(root: BlobId, target: string): Promise<number> {
    await this.planDir(root, Buffer.from(target), '', this.opts.includes.length === 0);
    return this.files.reduce((n, f) => n + (f.node.size ?? 0), 0);
  }

  private async planDir(id: BlobId, abs: Buffer, rel: string, included: boolean): Promise<boolean> {
    const tree = decodeTree(await this.repo.loadBlob(id), id);
    let any = false;
    for (const node of tree.nodes) {
      const childAbs = this.paths.join(abs, nodeNameBytes(node));
      const childRel = rel ? `${rel}/${node.name}` : node.name;
      const inc = included || matchesAny(this.opts.includes, childRel, node.type === 'dir');
      if (node.type === 'dir') {
        const idx = this.dirs.length;
        this.dirs.push({ abs: childAbs, node });
        const below = await this.planDir(node.subtree!, childAbs, childRel, inc);
        if (!below && !inc) this.dirs.splice(idx, 1);
        else any = true;
      } else if (inc) {
        any = true;
        (node.type === 'file' ? this.files : node.type === 'symlink' ? this.links : this.specials).push({ abs: childAbs, node });
      }
    }
    return any;
  }

  async run(target: string, onProgress?: () => void): Promise<void> {
    await fsp.mkdir(target, { recursive: true });
    for (const d of this.dirs) {
      mkdirReplacing(d.abs);
      this.progress.dirs++;
    }
    await this.restoreContent(onProgress);
    for (const s of this.specials) {
      removeIfPresentSync(s.abs);
      try {
        makeSpecial(target, s.abs, s.node);
      } catch (e) {
        this.warnings.push(`cannot recreate the ${s.node.type} ${printablePath(s.abs)}: ${(e as Error).message.split('\n')[0]}`);
        continue;
      }
      this.applyMeta(s.abs, s.node, false);
      this.progress.specials++;
    }
    for (const l of this.links) {
      removeIfPresentSync(l.abs);
      await fsp.symlink(nodeTargetBytes(l.node), l.abs);
      this.applyMeta(l.abs, l.node, true);
      this.progress.symlinks++;
    }
    for (let i = this.dirs.length - 1; i >= 0; i--) this.applyMeta(this.dirs[i]!.abs, this.dirs[i]!.node, false);
  }

  /**
   * Reads each needed pack once, in order, and writes every blob to all the places that use
   * it (like restic's restorer): sequential reads instead of one seek per blob.
   */
  private async restoreContent(onProgress?: () => void): Promise<void> {
    const byPack = new Map<string, BlobUse[]>();
    const states: FileState[] = [];
    const where = this.repo.locateMany(this.files.flatMap((f) => f.node.content ?? []));
    for (const f of this.files) {
      const state: FileState = { file: f, remaining: 0, blobs: 0, size: 0 };
      states.push(state);
      for (const id of f.node.content ?? []) {
        const loc = where.get(id)!;
        let uses = byPack.get(loc.pack);
        if (!uses) byPack.set(loc.pack, (uses = []));
        uses.push({ loc, state, offset: state.size });
        state.size += loc.rawLength;
        state.remaining++;
      }
      state.blobs = state.remaining;
    }
    for (const s of states) if (s.remaining === 0) this.finishFile(s);
    const pieces: Piece[] = [];
    for (const pack of [...byPack.keys()].sort()) pieces.push(...cutPieces(pack, byPack.get(pack)!));
    const limit = pLimit(PIECES_IN_FLIGHT);
    // every write is synchronous inside its task, so once settled nothing writes into the target
    await settleAll(pieces.map((p) => limit(() => (this.failed ? undefined : this.restorePiece(p, onProgress))).catch(this.stop)));
  }

  /** Set by the first failure: no new piece is started after it. */
  private failed = false;

  private readonly stop = (e: unknown): never => {
    this.failed = true;
    throw e;
  };

  /** Reads one piece of a pack and has the workers write its blobs, one batch per worker. */
  private async restorePiece(piece: Piece, onProgress?: () => void): Promise<void> {
    const range = { offset: piece.from, length: piece.to - piece.from };
    const buffer = this.takeReadBuffer(range.length);
    try {
      const backend = this.repo.backend;
      try {
        if (backend.loadInto) await backend.loadInto('data', piece.pack, range, buffer);
        else buffer.set(await backend.load('data', piece.pack, range));
      } catch (e) {
        if (e instanceof OcvaultError && e.code === 'ObjectNotFound') throw new OcvaultError('CorruptObject', `pack ${piece.pack} is missing (needed for ${printablePath(piece.uses[0]!.state.file.abs)})`, { pack: piece.pack });
        throw e;
      }
      if (this.failed) return;
      const byBlob = new Map<string, BlobUse[]>();
      for (const u of piece.uses) {
        const list = byBlob.get(u.loc.id);
        if (list) list.push(u);
        else byBlob.set(u.loc.id, [u]);
      }
      const lists = [...byBlob.values()];
      const blobs = lists.map((list): BlobWrite => ({ id: list[0]!.loc.id, offset: list[0]!.loc.offset - piece.from, length: list[0]!.loc.length, targets: list.map((u) => this.targetOf(u)) }));
      // settled, not raced: the read buffer goes back to the pool only once no worker reads it
      const written = await this.repo.writeBlobs(piece.pack, buffer.subarray(0, range.length), blobs).catch((e: unknown) => {
        throw blobFailure(e, piece.pack, lists);
      });
      for (const f of written.timeFailures) {
        const file = lists[f.blob]![f.target]!.state.file;
        this.warnings.push(timeWarning(file.abs, file.node, f.reason));
      }
      for (const list of lists) {
        for (const u of list) {
          this.progress.bytes += u.loc.rawLength;
          if (--u.state.remaining === 0) this.finishFile(u.state);
        }
      }
      onProgress?.();
    } finally {
      this.readBuffers.push(buffer);
    }
  }

  /** Pack read buffers, reused: shared with the workers (no copy) and never faulted in twice. */
  private readonly readBuffers: Buffer[] = [];

  private takeReadBuffer(length: number): Buffer {
    const i = this.readBuffers.findIndex((b) => b.length >= length);
    if (i >= 0) return this.readBuffers.splice(i, 1)[0]!;
    return Buffer.from(new SharedArrayBuffer(Math.max(length, READ_BUFFER)));
  }

  /**
   * Where one use of a blob goes. A file of one blob is cut to size and gets its metadata
   * from the same write, in the worker.
   */
  private targetOf(u: BlobUse): BlobTarget {
    const only = u.state.blobs === 1;
    return { file: new Uint8Array(u.state.file.abs), position: u.offset, truncateTo: only ? u.state.size : undefined, meta: only ? this.metaOf(u.state.file.node) : undefined };
  }

  private metaOf(node: TreeNode): FileMeta {
    const owned = this.opts.owners && node.uid !== undefined && node.gid !== undefined;
    return { mode: node.mode, mtime: mtimeSeconds(node), uid: owned ? node.uid : undefined, gid: owned ? node.gid : undefined };
  }

  /** After a file's last blob: a file of one blob is done; others are cut to size and get their metadata. */
  private finishFile(state: FileState): void {
    if (state.blobs !== 1) {
      try {
        writeAtSync(state.file.abs, EMPTY, state.size, state.size);
      } catch (e) {
        throw writeError(state, e);
      }
      this.applyMeta(state.file.abs, state.file.node, false);
    }
    this.progress.files++;
  }

  private applyMeta(abs: Buffer, node: TreeNode, isLink: boolean): void {
    const seconds = mtimeSeconds(node);
    // synchronous: metadata calls are cheaper than a thread-pool round trip each
    if (this.opts.owners && node.uid !== undefined && node.gid !== undefined) {
      try {
        lchownSync(abs, node.uid, node.gid);
      } catch {
        // an owner that cannot be set is not worth failing the restore
      }
    }
    // chmod follows links: never let it reach through one to something outside the target
    if (!isLink && !lstatSync(abs).isSymbolicLink()) chmodSync(abs, node.mode);
    try {
      lutimesSync(abs, seconds, seconds);
    } catch (e) {
      // a time the file system cannot hold (from a damaged or foreign tree) costs only the time
      this.warnings.push(timeWarning(abs, node, errnoCode(e) ?? (e as Error).message));
    }
  }
}

function mtimeSeconds(node: TreeNode): number {
  const ns = BigInt(node.mtimeNs);
  return Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9;
}

/** a time the file system cannot hold (from a damaged or foreign tree) costs only the time */
function timeWarning(abs: Buffer, node: TreeNode, reason: string): string {
  return `cannot set the time of ${printablePath(abs)} to ${node.mtimeNs} ns: ${reason}`;
}

/** Names the file a failed batch was restoring (and wraps a write failure as one naming it). */
function blobFailure(e: unknown, pack: string, lists: BlobUse[][]): unknown {
  if (!(e instanceof BlobWriteFailure)) return e;
  const state = lists[e.blob]![e.target ?? 0]!.state;
  const err = writeError(state, e.reason);
  if (!(err instanceof OcvaultError)) return err;
  return new OcvaultError(err.code, `${err.message} (restoring ${printablePath(state.file.abs)})`, { ...err.data, pack, file: state.file.abs.toString() });
}

/**
 * Cuts a pack's uses into pieces read at once: nearby blobs coalesce into reads of up to
 * READ_BUFFER; gaps under 1 MiB are cheaper read than skipped.
 */
function cutPieces(pack: string, uses: BlobUse[]): Piece[] {
  uses.sort((a, b) => a.loc.offset - b.loc.offset);
  const pieces: Piece[] = [];
  let p: Piece | undefined;
  for (const u of uses) {
    const end = u.loc.offset + u.loc.length;
    if (p && u.loc.offset - p.to < 1024 * 1024 && end - p.from <= READ_BUFFER) {
      p.uses.push(u);
      p.to = Math.max(p.to, end);
    } else pieces.push((p = { pack, from: u.loc.offset, to: end, uses: [u] }));
  }
  return pieces;
}

/**
 * Recreates a FIFO or device node with mknod(1) (Node has no mknod): made under a fresh name in
 * the target's top folder (a plain string path), then renamed into place, so names that are
 * not UTF-8 work too.
 */
function makeSpecial(target: string, abs: Buffer, node: TreeNode): void {
  const tmp = `${target}/.ocvault-mknod-${randomBytes(8).toString('hex')}`;
  let args: string[];
  if (node.type === 'fifo') args = [tmp, 'p'];
  else {
    const rdev = BigInt(node.rdev ?? 0);
    const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
    const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
    args = [tmp, node.type === 'chardev' ? 'c' : 'b', String(major), String(minor)];
  }
  try {
    execFileSync('mknod', ['-m', '0600', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(stderr ? stderr.replace(/^mknod: /, '').replace(`${tmp}: `, '') : (e as Error).message);
  }
  try {
    renameSync(tmp, abs);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Makes a directory, replacing a file or link in its place (never following one). Synchronous
 * and mkdir first: one syscall for a new directory instead of two thread-pool round trips
 * (4k directories of the bench tree: 330 -> 60 ms).
 */
function mkdirReplacing(abs: Buffer): void {
  try {
    mkdirSync(abs, { mode: 0o700 });
    return;
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
  }
  if (lstatSync(abs).isDirectory()) return;
  unlinkSync(abs);
  mkdirSync(abs, { mode: 0o700 });
}

/**
 * Waits for every task, then throws the first failure: a failed restore returns only once
 * nothing writes into the target any more (the caller may remove it at once).
 */
async function settleAll(tasks: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}
