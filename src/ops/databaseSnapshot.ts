import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { BlobWorkers } from '../repo/blobWorkers.js';
import { isBlobId, type BlobId } from '../repo/blobId.js';
import { expandTableManifest, rowGroupIds, saveTableManifest } from './storedTable.js';
import {
  dumpDatabase, decodeDatabaseManifest, decodeTableManifest, encodeDatabaseManifest,
  type DatabaseManifest, type DumpDatabaseOptions, type RowSource, type TableSink,
} from '../sources/mysql/index.js';

/**
 * How a snapshot stores its database: one `tree` blob with the database-wide facts and the
 * ids of one `tree` blob per table manifest, so an unchanged table's manifest deduplicates
 * between snapshots just like an unchanged directory; a big table's manifest lists `tree`
 * blobs of row ids in turn (storedTable.ts), so do the unchanged stretches of a changed table.
 */
interface StoredDatabase {
  version: 1;
  kind: 'database';
  info: Omit<DatabaseManifest, 'tables'>;
  tables: BlobId[];
}

export interface DatabaseBackupResult {
  id: BlobId;
  manifest: DatabaseManifest;
  addedBytes: number;
  addedBlobs: number;
  durationMs: number;
}

/** Dumps a database consistently into the repository; returns the stored manifest's id. */
export async function backupDatabase(
  repo: Repository,
  workers: BlobWorkers,
  url: string,
  options: DumpDatabaseOptions = {},
): Promise<DatabaseBackupResult> {
  const started = Date.now();
  let addedBytes = 0;
  let addedBlobs = 0;
  const openSink = (): TableSink => {
    const writer = workers.openStream('db');
    return {
      // the dump hands each buffer over for good (RowSink), so it is moved to the worker
      write: async (bytes) => (await writer).push(bytes, true),
      end: async () => {
        const { content, added } = await (await writer).end();
        addedBytes += added.bytes;
        addedBlobs += added.blobs;
        return content;
      },
    };
  };
  const manifest = await dumpDatabase(url, openSink, options);
  const saveTree = async (plain: Buffer): Promise<BlobId> => {
    const { id, added } = await repo.saveBlob('tree', plain);
    if (added) {
      addedBytes += added;
      addedBlobs++;
    }
    return id;
  };
  const tableIds: BlobId[] = [];
  for (const t of manifest.tables) tableIds.push(await saveTableManifest(t, saveTree));
  const { tables: _tables, ...info } = manifest;
  const stored: StoredDatabase = { version: 1, kind: 'database', info, tables: tableIds };
  const id = await saveTree(Buffer.from(JSON.stringify(stored)));
  return { id, manifest, addedBytes, addedBlobs, durationMs: Date.now() - started };
}

/** The ids a stored database references: its table manifests (the caller reads rowData from them). */
export function decodeStoredDatabase(bytes: Uint8Array, id: string): StoredDatabase {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new OcvaultError('CorruptObject', `database manifest ${id.slice(0, 12)} is not JSON`, { blob: id });
  }
  const s = v as Partial<StoredDatabase>;
  if (s.version !== 1 || s.kind !== 'database' || typeof s.info !== 'object' || !Array.isArray(s.tables) || !s.tables.every(isBlobId)) {
    throw new OcvaultError('CorruptObject', `database manifest ${id.slice(0, 12)} is malformed`, { blob: id });
  }
  return s as StoredDatabase;
}

/** Loads the full database manifest of a snapshot, every table's row ids in place. */
export async function loadDatabaseManifest(repo: Repository, id: BlobId): Promise<DatabaseManifest> {
  const stored = decodeStoredDatabase(await repo.loadBlob(id), id);
  const storedTables = await Promise.all(stored.tables.map(async (t) => decodeTableManifest(await repo.loadBlob(t), `table manifest ${t.slice(0, 12)}`)));
  const groups = loadInPackOrder(repo, storedTables.flatMap(rowGroupIds));
  const tables = await Promise.all(storedTables.map((t) => expandTableManifest(t, (g) => groups.get(g)!)));
  return decodeDatabaseManifest(encodeDatabaseManifest({ ...stored.info, tables } as DatabaseManifest), `database manifest ${id.slice(0, 12)}`);
}

/**
 * Starts loading blobs in the order they lie in their packs. The repository keeps only a few
 * tree packs in memory, and the row groups of a table written over many days lie in many packs:
 * asked for in table order they would load the same packs again and again.
 */
function loadInPackOrder(repo: Repository, ids: readonly BlobId[]): Map<BlobId, Promise<Buffer>> {
  const located = [...new Set(ids)].map((id) => repo.locate(id));
  located.sort((a, b) => (a.pack < b.pack ? -1 : a.pack > b.pack ? 1 : a.offset - b.offset));
  const loads = new Map<BlobId, Promise<Buffer>>();
  for (const loc of located) {
    const p = repo.loadBlob(loc.id);
    p.catch(() => undefined); // awaited by its table; a failure there is reported there
    loads.set(loc.id, p);
  }
  return loads;
}

/** The database manifest of a snapshot (by reference), checking that the named tables are in it. */
export async function snapshotDatabase(repo: Repository, ref: string, tables?: readonly string[]): Promise<{ id: string; manifest: DatabaseManifest }> {
  const { id, snapshot } = repo.resolveSnapshot(ref);
  if (!snapshot.database) throw new OcvaultError('Usage', `snapshot ${id.slice(0, 8)} holds no database`);
  const manifest = await loadDatabaseManifest(repo, snapshot.database);
  if (tables?.length) {
    const have = new Set(manifest.tables.map((t) => t.name));
    const missing = tables.filter((t) => !have.has(t));
    if (missing.length) throw new OcvaultError('Usage', `snapshot ${id.slice(0, 8)} has no table ${missing.join(', ')}`);
  }
  return { id, manifest };
}

/** Row bytes of a table, blob by blob from blob `from`, a few blobs read ahead. */
export function rowSource(repo: Repository, readAhead = 4): RowSource {
  return (table, from = 0) =>
    (async function* () {
      const ids = table.rowData;
      const pending: Promise<Buffer>[] = [];
      try {
        for (let i = from; i < ids.length; i++) {
          while (pending.length < readAhead && i + pending.length < ids.length) pending.push(repo.loadBlob(ids[i + pending.length]!));
          yield await pending.shift()!;
        }
      } finally {
        // a reader that stops early (a table part ends mid-stream) leaves reads nobody awaits
        for (const p of pending) p.catch(() => undefined);
      }
    })();
}
