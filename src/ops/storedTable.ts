/**
 * How a table manifest meets the repository. In memory every table lists its row ids whole
 * (`rowData`); stored, a big table lists row-group blobs instead, so an unchanged stretch of a
 * table deduplicates between snapshots (see rowGroups.ts). These are the only two crossings.
 */
import type { BlobId } from '../repo/blobId.js';
import {
  decodeRowGroup, encodeRowGroup, encodeTableManifest, splitRowGroups, ROW_GROUP_INLINE_MAX,
  type StoredTableManifest, type TableManifest,
} from '../sources/mysql/index.js';

export type LoadBlob = (id: BlobId) => Promise<Buffer>;
export type SaveTree = (plain: Buffer) => Promise<BlobId>;

/** Stores a table manifest, its row groups first (a small table keeps its ids inline). */
export async function saveTableManifest(t: TableManifest, saveTree: SaveTree): Promise<BlobId> {
  if (t.rowData.length <= ROW_GROUP_INLINE_MAX) return saveTree(encodeTableManifest(t));
  const rowGroups: BlobId[] = [];
  for (const group of splitRowGroups(t.rowData)) rowGroups.push(await saveTree(encodeRowGroup(group)));
  const { rowData: _rowData, ...rest } = t;
  return saveTree(encodeTableManifest({ ...rest, rowGroups }));
}

/** The row-group blobs a stored table manifest references (none when its ids are inline). */
export function rowGroupIds(t: StoredTableManifest): BlobId[] {
  return t.rowGroups ?? [];
}

/** A stored table manifest with its row ids in place, its groups loaded in parallel. */
export async function expandTableManifest(t: StoredTableManifest, load: LoadBlob): Promise<TableManifest> {
  if (t.rowGroups === undefined) return t as TableManifest;
  const groups = await Promise.all(t.rowGroups.map(async (g) => decodeRowGroup(await load(g), g)));
  const { rowGroups: _rowGroups, ...rest } = t;
  return { ...rest, rowData: groups.flat() };
}
