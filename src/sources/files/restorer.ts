import { promises as fsp, constants as C } from 'node:fs';
import pLimit from 'p-limit';
import { errnoCode, OcvaultError } from '../../errors/OcvaultError.js';
import type { Repository } from '../../repo/repository.js';
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
  /** blobs fetched ahead per file */
  prefetch?: number;
}

interface PlannedFile {
  abs: Buffer;
  node: TreeNode;
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
    // Big files first keeps the tail of the run parallel.
    const order = [...this.files].sort((a, b) => (b.node.size ?? 0) - (a.node.size ?? 0));
    const limit = pLimit(8);
    await Promise.all(
      order.map((f) =>
        limit(async () => {
          await this.restoreFile(f, onProgress);
          this.progress.files++;
        }),
      ),
    );
    for (const l of this.links) {
      await removeIfPresent(l.abs);
      await fsp.symlink(l.node.target!, l.abs);
      await this.applyMeta(l.abs, l.node, true);
      this.progress.symlinks++;
    }
    for (let i = this.dirs.length - 1; i >= 0; i--) await this.applyMeta(this.dirs[i]!.abs, this.dirs[i]!.node, false);
  }

  private async restoreFile(f: PlannedFile, onProgress?: () => void): Promise<void> {
    const handle = await openForWrite(f.abs);
    try {
      const content = f.node.content ?? [];
      const depth = this.opts.prefetch ?? 4;
      const loads: Promise<Buffer>[] = [];
      let position = 0;
      for (let i = 0; i < content.length; i++) {
        while (loads.length < depth && i + loads.length < content.length) loads.push(this.repo.loadBlob(content[i + loads.length]!));
        const data = await loads.shift()!;
        let written = 0;
        while (written < data.length) {
          const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
          written += bytesWritten;
        }
        position += data.length;
        this.progress.bytes += data.length;
        onProgress?.();
      }
      await handle.truncate(position);
    } catch (e) {
      if (e instanceof OcvaultError) throw new OcvaultError(e.code, `${e.message} (restoring ${f.abs.toString()})`, { ...e.data, file: f.abs.toString() });
      throw new OcvaultError('StorageError', `cannot write ${f.abs.toString()}: ${errnoCode(e) === 'ENOSPC' ? 'no space left on device' : (e as Error).message}`, { file: f.abs.toString() });
    } finally {
      await handle.close();
    }
    await this.applyMeta(f.abs, f.node, false);
  }

  private async applyMeta(abs: Buffer, node: TreeNode, isLink: boolean): Promise<void> {
    const ns = BigInt(node.mtimeNs);
    const seconds = Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9;
    if (this.opts.owners && node.uid !== undefined && node.gid !== undefined) {
      await fsp.lchown(abs, node.uid, node.gid).catch(() => undefined);
    }
    if (!isLink) await fsp.chmod(abs, node.mode);
    await fsp.lutimes(abs, seconds, seconds);
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
