import { promises as fsp, constants as C, chmodSync, lchownSync, lutimesSync } from 'node:fs';
import pLimit from 'p-limit';
import { errnoCode, OcvaultError } from '../../errors/OcvaultError.js';
import type { Repository } from '../../repo/repository.js';
import type { BlobLocation } from '../../repo/localIndex.js';
import { decodeTree, nodeNameBytes, type TreeNode } from '../../repo/tree.js';
import type { BlobId } from '../../repo/blobId.js';
import { matchesAny, type PathPattern } from './glob.js';

export interface RestoreProgress {
  files: number;
  dirs: number;
  symlinks: number;
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
  size: number;
  handle?: Promise<fsp.FileHandle>;
}

interface BlobUse {
  loc: BlobLocation;
  state: FileState;
  offset: number;
}

interface PlannedDir {
  abs: Buffer;
  node: TreeNode;
}

const SLASH = Buffer.from('/');

/**
 * Restores a tree under a target directory: directories first, files in parallel (blobs
 * verified against their ids as they are read), then directory modes and times bottom-up so
 * writing files does not disturb them. Names come from validated trees, so nothing lands
 * outside the target; existing symlinks in the way are replaced, never followed.
 */
export class Restorer {
  readonly progress: RestoreProgress = { files: 0, dirs: 0, symlinks: 0, bytes: 0 };
  private readonly files: PlannedFile[] = [];
  private readonly dirs: PlannedDir[] = [];
  private readonly links: PlannedFile[] = [];

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
      const childAbs = Buffer.concat([abs, SLASH, nodeNameBytes(node)]);
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
        (node.type === 'file' ? this.files : this.links).push({ abs: childAbs, node });
      }
    }
    return any;
  }

  async run(target: string, onProgress?: () => void): Promise<void> {
    await fsp.mkdir(target, { recursive: true });
    for (const d of this.dirs) {
      await mkdirReplacing(d.abs);
      this.progress.dirs++;
    }
    await this.restoreContent(onProgress);
    for (const l of this.links) {
      await removeIfPresent(l.abs);
      await fsp.symlink(l.node.target!, l.abs);
      await this.applyMeta(l.abs, l.node, true);
      this.progress.symlinks++;
    }
    for (let i = this.dirs.length - 1; i >= 0; i--) await this.applyMeta(this.dirs[i]!.abs, this.dirs[i]!.node, false);
  }

  /**
   * Reads each needed pack once, in order, and writes every blob to all the places that use
   * it (like restic's restorer): sequential reads instead of one seek per blob.
   */
  private async restoreContent(onProgress?: () => void): Promise<void> {
    const byPack = new Map<string, BlobUse[]>();
    const states: FileState[] = [];
    for (const f of this.files) {
      const state: FileState = { file: f, remaining: 0, size: 0 };
      states.push(state);
      for (const id of f.node.content ?? []) {
        const loc = this.repo.locate(id);
        let uses = byPack.get(loc.pack);
        if (!uses) byPack.set(loc.pack, (uses = []));
        uses.push({ loc, state, offset: state.size });
        state.size += loc.rawLength;
        state.remaining++;
      }
    }
    const limitFiles = pLimit(8);
    await Promise.all(states.filter((s) => s.remaining === 0).map((s) => limitFiles(() => this.finishFile(s))));
    const limitPacks = pLimit(2);
    const packs = [...byPack.keys()].sort();
    try {
      await settleAll(packs.map((pack) => limitPacks(() => (this.failed ? undefined : this.restorePack(pack, byPack.get(pack)!, onProgress))).catch(this.stop)));
    } catch (e) {
      // Close what a failed restore left open (nothing writes any more); the error names the damaged pack.
      await Promise.all(states.filter((s) => s.remaining > 0 && s.handle).map((s) => s.handle!.then((h) => h.close()).catch(() => undefined)));
      throw e;
    }
  }

  /** Set by the first failure: no new pack or blob is started after it. */
  private failed = false;

  private readonly stop = (e: unknown): never => {
    this.failed = true;
    throw e;
  };

  private async restorePack(pack: string, uses: BlobUse[], onProgress?: () => void): Promise<void> {
    uses.sort((a, b) => a.loc.offset - b.loc.offset);
    // Coalesce nearby blobs into one read; gaps under 1 MiB are cheaper read than skipped.
    const groups: BlobUse[][] = [];
    for (const u of uses) {
      const g = groups[groups.length - 1];
      const last = g?.[g.length - 1];
      if (g && last && u.loc.offset - (last.loc.offset + last.loc.length) < 1024 * 1024) g.push(u);
      else groups.push([u]);
    }
    for (const g of groups) {
      if (this.failed) return;
      const from = g[0]!.loc.offset;
      const to = Math.max(...g.map((u) => u.loc.offset + u.loc.length));
      let bytes: Buffer;
      try {
        bytes = await this.repo.backend.load('data', pack, { offset: from, length: to - from });
      } catch (e) {
        if (e instanceof OcvaultError && e.code === 'ObjectNotFound') throw new OcvaultError('CorruptObject', `pack ${pack} is missing (needed for ${g[0]!.state.file.abs.toString()})`, { pack });
        throw e;
      }
      const byBlob = new Map<string, BlobUse[]>();
      for (const u of g) {
        const list = byBlob.get(u.loc.id);
        if (list) list.push(u);
        else byBlob.set(u.loc.id, [u]);
      }
      const limit = pLimit(8);
      await settleAll(
        [...byBlob.values()].map((list) =>
          limit(async () => {
            if (this.failed) return;
            const loc = list[0]!.loc;
            const sealed = bytes.subarray(loc.offset - from, loc.offset - from + loc.length);
            const plain = await this.repo.openBlobAnywhere(loc.id, sealed, `blob ${loc.id.slice(0, 12)} in pack ${pack}`).catch((e: unknown) => {
              if (e instanceof OcvaultError) throw new OcvaultError(e.code, `${e.message} (restoring ${list[0]!.state.file.abs.toString()})`, { ...e.data, pack, file: list[0]!.state.file.abs.toString() });
              throw e;
            });
            for (const u of list) {
              await this.writeAt(u.state, plain, u.offset);
              this.progress.bytes += plain.length;
              onProgress?.();
              if (--u.state.remaining === 0) await this.finishFile(u.state);
            }
          }).catch(this.stop),
        ),
      );
    }
  }

  private async writeAt(state: FileState, data: Buffer, position: number): Promise<void> {
    state.handle ??= openForWrite(state.file.abs);
    try {
      const handle = await state.handle;
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
        written += bytesWritten;
      }
    } catch (e) {
      throw new OcvaultError('StorageError', `cannot write ${state.file.abs.toString()}: ${errnoCode(e) === 'ENOSPC' ? 'no space left on device' : (e as Error).message}`, { file: state.file.abs.toString() });
    }
  }

  private async finishFile(state: FileState): Promise<void> {
    state.handle ??= openForWrite(state.file.abs);
    const handle = await state.handle;
    try {
      await handle.truncate(state.size);
    } finally {
      await handle.close();
    }
    await this.applyMeta(state.file.abs, state.file.node, false);
    this.progress.files++;
  }

  private async applyMeta(abs: Buffer, node: TreeNode, isLink: boolean): Promise<void> {
    const ns = BigInt(node.mtimeNs);
    const seconds = Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9;
    // synchronous: metadata calls are cheaper than a thread-pool round trip each
    if (this.opts.owners && node.uid !== undefined && node.gid !== undefined) {
      try {
        lchownSync(abs, node.uid, node.gid);
      } catch {
        // an owner that cannot be set is not worth failing the restore
      }
    }
    if (!isLink) chmodSync(abs, node.mode);
    lutimesSync(abs, seconds, seconds);
  }
}

async function removeIfPresent(abs: Buffer): Promise<void> {
  try {
    const st = await fsp.lstat(abs);
    if (st.isDirectory()) await fsp.rm(abs, { recursive: true });
    else await fsp.unlink(abs);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}

async function mkdirReplacing(abs: Buffer): Promise<void> {
  try {
    const st = await fsp.lstat(abs);
    if (st.isDirectory()) return;
    await fsp.unlink(abs);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  await fsp.mkdir(abs, { mode: 0o700 });
}

/** Opens a file for writing without following a symlink that stands in its place. */
async function openForWrite(abs: Buffer): Promise<fsp.FileHandle> {
  const flags = C.O_WRONLY | C.O_CREAT | C.O_NOFOLLOW;
  try {
    return await fsp.open(abs, flags, 0o600);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ELOOP' || code === 'EISDIR' || code === 'EACCES') {
      await removeIfPresent(abs);
      return fsp.open(abs, flags, 0o600);
    }
    throw e;
  }
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
