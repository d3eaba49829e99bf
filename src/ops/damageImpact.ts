import type { BlobId } from '../repo/blobId.js';
import { expandRef, joinPath, lostPath, type BlobLoader, type BlobRef } from './references.js';

/** A place in a snapshot that damaged data reaches: a file (or table), or a whole directory. */
export interface Hit {
  /** the file's path; a directory ends with '/' (everything below it is lost) */
  path: string;
  blob: BlobId;
}

/**
 * Maps damaged blobs to the files, directories and tables of snapshots that use them. Each tree
 * is expanded once for all snapshots (results are memoised per tree), so mapping damage over
 * many similar snapshots costs about as much as one walk.
 */
export class DamageImpact {
  private readonly memo = new Map<string, Promise<Hit[]>>();

  constructor(
    private readonly load: BlobLoader,
    private readonly damaged: ReadonlySet<BlobId>,
  ) {}

  /** Hits below the given roots (a snapshot's roots), paths relative to the snapshot. */
  async of(roots: readonly BlobRef[]): Promise<Hit[]> {
    const out: Hit[] = [];
    for (const r of roots) for (const h of await this.ref(r)) out.push({ path: prefixPath(r.name, h.path), blob: h.blob });
    return out;
  }

  /** Hits inside one reference, relative to it ('' is the reference itself). */
  private ref(r: BlobRef): Promise<Hit[]> {
    if (this.damaged.has(r.id)) return Promise.resolve([{ path: lostPath(r.kind), blob: r.id }]);
    if (r.kind === 'data') return Promise.resolve([]);
    const key = `${r.kind}:${r.id}`;
    let p = this.memo.get(key);
    if (!p) {
      p = this.expand(r);
      this.memo.set(key, p);
    }
    return p;
  }

  private async expand(r: BlobRef): Promise<Hit[]> {
    let children: BlobRef[];
    try {
      children = expandRef(r, await this.load(r.id));
    } catch {
      return [{ path: lostPath(r.kind), blob: r.id }];
    }
    const out: Hit[] = [];
    for (const c of children) for (const h of await this.ref(c)) out.push({ path: prefixPath(c.name, h.path), blob: h.blob });
    return out;
  }
}

/** `a` + `b` where b '' is a itself and '/' marks a directory. */
function prefixPath(a: string, b: string): string {
  if (b === '') return a;
  if (b === '/') return a ? `${a}/` : '/';
  return joinPath(a, b);
}
