import pLimit from 'p-limit';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { Backend } from '../storage/Backend.js';
import type { BlobId } from '../repo/blobId.js';
import type { PackEntry } from '../repo/pack.js';
import type { BlobLocation } from '../repo/localIndex.js';
import { decodeIndexSegment } from '../repo/indexSegment.js';
import { openObject } from '../repo/objectCodec.js';

export interface IndexedPack {
  id: string;
  size: number;
  blobs: PackEntry[];
  /** the segment that lists it */
  segment: string;
}

export interface DamagedSegment {
  name: string;
  message: string;
}

/**
 * The index as the repository itself states it, read from index/ (not from the local cache):
 * the packs of every readable segment that no other readable segment supersedes. Check and
 * prune work from this view so a stale or damaged cache cannot mislead them.
 */
export class IndexView {
  /** effective packs by id */
  readonly packs = new Map<string, IndexedPack>();
  /** blob → where it is stored (several places when duplicated) */
  private readonly blobs = new Map<BlobId, { pack: IndexedPack; entry: PackEntry }[]>();

  private constructor(
    /** every segment name in index/ */
    readonly segments: string[],
    readonly damaged: DamagedSegment[],
    /** readable segments that a newer one supersedes (left over by an interrupted prune or repair) */
    readonly superseded: Set<string>,
    /** packs listed only by superseded segments: known to have been indexed once */
    readonly formerlyIndexed: Set<string>,
  ) {}

  /** Reads and verifies every segment; damaged ones are recorded, not thrown. */
  static async load(repo: Repository, backend: Backend = repo.backend, onProgress?: (done: number, total: number) => void): Promise<IndexView> {
    const names = (await backend.list('index')).map((o) => o.name).sort();
    const limit = pLimit(8);
    let done = 0;
    const damaged: DamagedSegment[] = [];
    const loaded = await Promise.all(
      names.map((name) =>
        limit(async () => {
          try {
            const bytes = await backend.load('index', name);
            if (repo.hasher.plain(bytes).toString('hex') !== name) throw new OcvaultError('CorruptObject', `index/${name} is damaged (its content does not match its name)`, { object: `index/${name}` });
            return { name, seg: decodeIndexSegment(openObject(repo.sealer, bytes, `index segment ${name}`), name) };
          } catch (e) {
            if (!(e instanceof OcvaultError)) throw e;
            damaged.push({ name, message: e.code === 'ObjectNotFound' ? `index/${name} vanished while being read` : e.message });
            return undefined;
          } finally {
            onProgress?.(++done, names.length);
          }
        }),
      ),
    );
    const good = loaded.filter((s): s is NonNullable<typeof s> => s !== undefined);
    const listed = new Set(names);
    const superseded = new Set(good.flatMap((s) => s.seg.supersedes).filter((n) => listed.has(n)));
    const formerly = new Set<string>();
    for (const s of good) if (superseded.has(s.name)) for (const p of s.seg.packs) formerly.add(p.id);
    const view = new IndexView(names, damaged.sort((a, b) => (a.name < b.name ? -1 : 1)), superseded, formerly);
    for (const s of good) {
      if (superseded.has(s.name)) continue;
      for (const p of s.seg.packs) view.addPack({ id: p.id, size: p.size, blobs: p.blobs, segment: s.name });
    }
    for (const id of view.packs.keys()) formerly.delete(id);
    return view;
  }

  /** Builds a view from packs directly (tests, planning). */
  static fromPacks(packs: readonly IndexedPack[]): IndexView {
    const view = new IndexView([], [], new Set(), new Set());
    for (const p of packs) view.addPack(p);
    return view;
  }

  private addPack(p: IndexedPack): void {
    if (this.packs.has(p.id)) return; // listed twice (an interrupted prune): the same pack
    this.packs.set(p.id, p);
    for (const entry of p.blobs) {
      const list = this.blobs.get(entry.id);
      if (list) list.push({ pack: p, entry });
      else this.blobs.set(entry.id, [{ pack: p, entry }]);
    }
  }

  has(id: BlobId): boolean {
    return this.blobs.has(id);
  }

  /** Every place a blob is stored. */
  places(id: BlobId): readonly { pack: IndexedPack; entry: PackEntry }[] {
    return this.blobs.get(id) ?? [];
  }

  /** The first place a blob is stored, as the repository's loaders want it. */
  locate(id: BlobId): BlobLocation | undefined {
    const p = this.blobs.get(id)?.[0];
    return p ? { id, type: p.entry.type, pack: p.pack.id, offset: p.entry.offset, length: p.entry.length, rawLength: p.entry.rawLength } : undefined;
  }

  get blobCount(): number {
    return this.blobs.size;
  }

  blobIds(): IterableIterator<BlobId> {
    return this.blobs.keys();
  }
}
