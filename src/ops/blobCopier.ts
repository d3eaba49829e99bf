import { createHash } from 'node:crypto';
import type { Repository } from '../repo/repository.js';
import type { BlobWorkers } from '../repo/blobWorkers.js';
import type { BlobId, BlobType } from '../repo/blobId.js';
import { OcvaultError } from '../errors/OcvaultError.js';
import { decodeTree, encodeTree, nodeKey, type TreeNode } from '../repo/tree.js';
import { decodeRowGroup, decodeTableManifest } from '../sources/mysql/index.js';
import { decodeStoredDatabase } from './databaseSnapshot.js';
import { expandTableManifest, saveTableManifest } from './storedTable.js';

export interface CopyStats {
  /** sealed bytes and blobs the target gained */
  addedBytes: number;
  addedBlobs: number;
  /** plain bytes read from the source and cut again by the target's chunker */
  rechunkedBytes: number;
  /** files and tables whose content list was taken over from an earlier copy, unread */
  reused: number;
}

/** A snapshot of the source already copied, and its copy: unchanged parts map one to one. */
export interface CopyBase {
  srcTree?: BlobId;
  dstTree?: BlobId;
  srcDatabase?: BlobId;
  dstDatabase?: BlobId;
}

/** How many source blobs are read ahead while one is being chunked. */
const READ_AHEAD = 4;

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return !!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Copies trees, file content and database tables from one repository into another. Blob ids
 * and chunk boundaries are keyed per repository, so unless both share their id and chunker keys
 * (`shared`), content is streamed blob by blob out of the source and cut again by the target's
 * chunker — exactly the blobs a backup straight into the target would have made, so the copy
 * deduplicates against the target's own backups. Directories, files and tables unchanged since
 * an earlier copied snapshot (`CopyBase`) are taken over from its copy without being read.
 */
export class BlobCopier {
  readonly stats: CopyStats = { addedBytes: 0, addedBlobs: 0, rechunkedBytes: 0, reused: 0 };
  /** source tree/table/content → target, for what repeats within this run */
  private readonly trees = new Map<BlobId, BlobId>();
  private readonly contents = new Map<string, BlobId[]>();

  constructor(
    private readonly src: Repository,
    private readonly dst: Repository,
    private readonly shared: boolean,
    private readonly workers: BlobWorkers | undefined,
  ) {}

  private async saveTreeBlob(plain: Buffer): Promise<BlobId> {
    const { id, added } = await this.dst.saveBlob('tree', plain);
    if (added) {
      this.stats.addedBytes += added;
      this.stats.addedBlobs++;
    }
    return id;
  }

  /** Copies one blob as it is (shared keys: its id is the same in both). */
  private async copyBlob(id: BlobId, type: BlobType): Promise<void> {
    if (this.dst.hasBlob(id)) return;
    const { id: got, added } = await this.dst.saveBlob(type, await this.src.loadBlob(id));
    if (got !== id) throw new OcvaultError('CorruptObject', `blob ${id.slice(0, 12)} got another id in the target; the repositories do not share keys after all`);
    this.stats.addedBytes += added;
    this.stats.addedBlobs++;
  }

  /** The target's content list for a source content list (file chunks or table rows). */
  async copyContent(ids: readonly BlobId[], chunks: 'file' | 'db'): Promise<BlobId[]> {
    if (ids.length === 0) return [];
    if (this.shared) {
      for (const id of ids) await this.copyBlob(id, 'data');
      return [...ids];
    }
    const key = createHash('sha256').update(chunks).update(ids.join(',')).digest('hex');
    const known = this.contents.get(key);
    if (known && known.every((id) => this.dst.hasBlob(id))) return known;
    const writer = await this.workers!.openStream(chunks);
    const pending: Promise<Buffer>[] = [];
    for (let i = 0; i < ids.length; i++) {
      while (pending.length < READ_AHEAD && i + pending.length < ids.length) pending.push(this.src.loadBlob(ids[i + pending.length]!));
      const plain = await pending.shift()!;
      this.stats.rechunkedBytes += plain.length;
      await writer.push(plain);
    }
    const { content, added } = await writer.end();
    this.stats.addedBytes += added.bytes;
    this.stats.addedBlobs += added.blobs;
    this.contents.set(key, content);
    return content;
  }

  /** Copies a directory tree; `base` names the same directory in an earlier copy, if any. */
  async copyTree(id: BlobId, baseSrc?: BlobId, baseDst?: BlobId): Promise<BlobId> {
    if (baseSrc === id && baseDst && this.dst.hasBlob(baseDst)) {
      this.stats.reused++;
      return baseDst;
    }
    const done = this.trees.get(id);
    if (done && this.dst.hasBlob(done)) return done;
    if (this.shared) {
      // same ids: copy the tree blob as it is, after what it references
      const tree = decodeTree(await this.src.loadBlob(id), id);
      for (const n of tree.nodes) {
        if (n.type === 'dir') await this.copyTree(n.subtree!);
        else if (n.type === 'file') await this.copyContent(n.content ?? [], 'file');
      }
      await this.copyBlob(id, 'tree');
      this.trees.set(id, id);
      return id;
    }
    const tree = decodeTree(await this.src.loadBlob(id), id);
    const [oldSrc, oldDst] = await Promise.all([this.nodes(this.src, baseSrc), this.nodes(this.dst, baseDst)]);
    const nodes: TreeNode[] = [];
    for (const n of tree.nodes) {
      const before = oldSrc.get(nodeKey(n));
      const copied = oldDst.get(nodeKey(n));
      const node: TreeNode = { ...n };
      if (n.type === 'dir') {
        node.subtree = await this.copyTree(n.subtree!, before?.type === 'dir' ? before.subtree : undefined, copied?.type === 'dir' ? copied.subtree : undefined);
      } else if (n.type === 'file') {
        if (before?.type === 'file' && copied?.type === 'file' && sameList(before.content, n.content) && copied.content!.every((c) => this.dst.hasBlob(c))) {
          node.content = copied.content;
          this.stats.reused++;
        } else {
          node.content = await this.copyContent(n.content ?? [], 'file');
        }
      }
      nodes.push(node);
    }
    const out = await this.saveTreeBlob(encodeTree({ nodes }));
    this.trees.set(id, out);
    return out;
  }

  private async nodes(repo: Repository, id: BlobId | undefined): Promise<Map<string, TreeNode>> {
    if (!id || !repo.hasBlob(id)) return new Map();
    try {
      return new Map(decodeTree(await repo.loadBlob(id), id).nodes.map((n) => [nodeKey(n), n]));
    } catch (e) {
      // a damaged earlier copy only costs reading again
      if (e instanceof OcvaultError) return new Map();
      throw e;
    }
  }

  /** Copies a stored database: each table manifest, its rows cut by the target's db chunker. */
  async copyDatabase(id: BlobId, baseSrc?: BlobId, baseDst?: BlobId): Promise<BlobId> {
    if (baseSrc === id && baseDst && this.dst.hasBlob(baseDst)) {
      this.stats.reused++;
      return baseDst;
    }
    const stored = decodeStoredDatabase(await this.src.loadBlob(id), id);
    const oldTables = new Map<BlobId, BlobId>();
    if (baseSrc && baseDst && this.src.hasBlob(baseSrc) && this.dst.hasBlob(baseDst)) {
      const [a, b] = await Promise.all([this.src.loadBlob(baseSrc), this.dst.loadBlob(baseDst)]);
      const sa = decodeStoredDatabase(a, baseSrc).tables;
      const sb = decodeStoredDatabase(b, baseDst).tables;
      if (sa.length === sb.length) sa.forEach((t, i) => oldTables.set(t, sb[i]!));
    }
    const tables: BlobId[] = [];
    for (const t of stored.tables) {
      const copied = oldTables.get(t);
      if (copied && this.dst.hasBlob(copied)) {
        this.stats.reused++;
        tables.push(copied);
        continue;
      }
      const m = decodeTableManifest(await this.src.loadBlob(t), t);
      if (this.shared) {
        // same ids: rows, then the row groups listing them, then the manifest, each as it is
        if (m.rowGroups) {
          for (const g of m.rowGroups) {
            await this.copyContent(decodeRowGroup(await this.src.loadBlob(g), g), 'db');
            await this.copyBlob(g, 'tree');
          }
        } else await this.copyContent(m.rowData, 'db');
        await this.copyBlob(t, 'tree');
        tables.push(t);
        continue;
      }
      const expanded = await expandTableManifest(m, (g) => this.src.loadBlob(g));
      const rowData = await this.copyContent(expanded.rowData, 'db');
      tables.push(await saveTableManifest({ ...expanded, rowData }, (plain) => this.saveTreeBlob(plain)));
    }
    if (this.shared) {
      await this.copyBlob(id, 'tree');
      return id;
    }
    return this.saveTreeBlob(Buffer.from(JSON.stringify({ ...stored, tables })));
  }
}
