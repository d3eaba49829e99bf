import pLimit from 'p-limit';
import type { BlobId, BlobType } from '../repo/blobId.js';
import type { Snapshot } from '../repo/snapshot.js';
import { decodeTree } from '../repo/tree.js';
import { decodeRowGroup, decodeTableManifest } from '../sources/mysql/index.js';
import { decodeStoredDatabase } from './databaseSnapshot.js';

/**
 * What a snapshot references, for prune (what to keep), check (what must exist) and repair
 * (what to salvage). A reference is a blob and the kind of thing it holds; `tree`-typed kinds
 * are loaded and expanded into further references. To teach maintenance a new kind of tree
 * blob, add it to `RefKind`, give it an expander in `EXPANDERS`, and return it from
 * `snapshotRoots` or from another expander — nothing else needs to change.
 */
export type RefKind = 'dir' | 'database' | 'table' | 'rowGroup' | 'data';

export interface BlobRef {
  id: BlobId;
  kind: RefKind;
  /** where it is used, relative to the tree that references it ('' adds nothing to the path) */
  name: string;
}

/** Loads a verified plain blob. */
export type BlobLoader = (id: BlobId) => Promise<Buffer>;

/** The path prefix of database content in reports: `[database]/oc_product`. */
export const DATABASE_PATH = '[database]';

export function blobTypeOf(kind: RefKind): BlobType {
  return kind === 'data' ? 'data' : 'tree';
}

type Expander = (plain: Buffer, id: BlobId) => BlobRef[];

/** How each tree-typed kind lists what it references. */
export const EXPANDERS: Record<Exclude<RefKind, 'data'>, Expander> = {
  dir: (plain, id) => {
    const refs: BlobRef[] = [];
    for (const n of decodeTree(plain, id).nodes) {
      if (n.type === 'dir') refs.push({ id: n.subtree!, kind: 'dir', name: n.name });
      else if (n.type === 'file') for (const c of n.content!) refs.push({ id: c, kind: 'data', name: n.name });
    }
    return refs;
  },
  // the stored database: database-wide facts plus one table-manifest tree blob per table
  database: (plain, id) => decodeStoredDatabase(plain, id).tables.map((t) => ({ id: t, kind: 'table' as const, name: '' })),
  // a table manifest: its row stream in order, inline or as row groups (named for the table)
  table: (plain, id) => {
    const t = decodeTableManifest(plain, id);
    if (t.rowGroups) return t.rowGroups.map((g) => ({ id: g, kind: 'rowGroup' as const, name: t.name }));
    return t.rowData.map((r) => ({ id: r, kind: 'data' as const, name: t.name }));
  },
  // a row group: a stretch of its table's row stream
  rowGroup: (plain, id) => decodeRowGroup(plain, id).map((r) => ({ id: r, kind: 'data' as const, name: '' })),
};

/** A referenced tree-typed blob for messages: `table manifest 0a1b2c3d4e5f`, `row group … of table oc_order`. */
export function describeRef(ref: BlobRef): string {
  const id = ref.id.slice(0, 12);
  if (ref.kind === 'dir') return `tree ${id}`;
  if (ref.kind === 'rowGroup') return `row group ${id} of table ${ref.name}`;
  return `${ref.kind} manifest ${id}`;
}

/**
 * Where a lost blob of this kind shows in a damage report, relative to its name: a directory
 * ('/': everything below it), or the named thing itself ('') — a file or table losing a chunk,
 * or a table losing a row group.
 */
export function lostPath(kind: RefKind): '' | '/' {
  return kind === 'data' || kind === 'rowGroup' ? '' : '/';
}

export function expandRef(ref: BlobRef, plain: Buffer): BlobRef[] {
  if (ref.kind === 'data') return [];
  return EXPANDERS[ref.kind](plain, ref.id);
}

/** The top-level references of a snapshot: its file tree and its database manifest. */
export function snapshotRoots(s: Snapshot): BlobRef[] {
  const roots: BlobRef[] = [];
  if (s.tree) roots.push({ id: s.tree, kind: 'dir', name: '' });
  if (s.database) roots.push({ id: s.database, kind: 'database', name: DATABASE_PATH });
  return roots;
}

export function joinPath(a: string, b: string): string {
  return a && b ? `${a}/${b}` : a || b;
}

export interface WalkOptions {
  /** a tree-typed blob could not be loaded or decoded; without this the walk throws */
  onTreeError?: (ref: BlobRef, error: unknown) => void;
  /** every reference met, trees once, data blobs every time they are referenced by a new tree */
  onRef?: (ref: BlobRef) => void;
  concurrency?: number;
}

/**
 * Every blob reachable from the roots, with its type; each tree-typed blob is loaded once.
 * Trees that fail to load are in the result too (they are referenced), but not expanded.
 */
export async function referencedBlobs(load: BlobLoader, roots: Iterable<BlobRef>, opts: WalkOptions = {}): Promise<Map<BlobId, BlobType>> {
  const found = new Map<BlobId, BlobType>();
  const limit = pLimit(opts.concurrency ?? 8);
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const visit = (ref: BlobRef): void => {
    const type = blobTypeOf(ref.kind);
    const seen = found.has(ref.id);
    if (!seen) found.set(ref.id, type);
    if (type === 'data' || seen) return;
    opts.onRef?.(ref);
    const task = limit(async () => {
      if (failure) return;
      let children: BlobRef[];
      try {
        children = expandRef(ref, await load(ref.id));
      } catch (e) {
        if (!opts.onTreeError) throw e;
        opts.onTreeError(ref, e);
        return;
      }
      for (const c of children) {
        if (c.kind === 'data') opts.onRef?.(c);
        visit(c);
      }
    })
      .catch((e: unknown) => {
        failure ??= { error: e };
      })
      .finally(() => running.delete(task));
    running.add(task);
  };
  for (const r of roots) visit(r);
  while (running.size > 0) await Promise.all(running);
  if (failure) throw failure.error;
  return found;
}
