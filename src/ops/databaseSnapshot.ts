import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { BlobWorkers } from '../repo/blobWorkers.js';
import { isBlobId, type BlobId } from '../repo/blobId.js';
import {
  dumpDatabase, decodeDatabaseManifest, decodeTableManifest, encodeDatabaseManifest, encodeTableManifest,
  type DatabaseManifest, type DumpDatabaseOptions, type RowSource, type TableSink,
} from '../sources/mysql/index.js';

/**
 * How a snapshot stores its database: one `tree` blob with the database-wide facts and the
 * ids of one `tree` blob per table manifest, so an unchanged table's manifest deduplicates
 * between snapshots just like an unchanged directory.
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
  const tableIds: BlobId[] = [];
  for (const t of manifest.tables) {
    const { id, added } = await repo.saveBlob('tree', encodeTableManifest(t));
    if (added) {
      addedBytes += added;
      addedBlobs++;
    }
    tableIds.push(id);
  }
  const { tables: _tables, ...info } = manifest;
  const stored: StoredDatabase = { version: 1, kind: 'database', info, tables: tableIds };
  const { id, added } = await repo.saveBlob('tree', Buffer.from(JSON.stringify(stored)));
  if (added) {
    addedBytes += added;
    addedBlobs++;
  }
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

/** Loads the full database manifest of a snapshot. */
export async function loadDatabaseManifest(repo: Repository, id: BlobId): Promise<DatabaseManifest> {
  const stored = decodeStoredDatabase(await repo.loadBlob(id), id);
  const tables = await Promise.all(stored.tables.map(async (t) => decodeTableManifest(await repo.loadBlob(t), `table manifest ${t.slice(0, 12)}`)));
  return decodeDatabaseManifest(encodeDatabaseManifest({ ...stored.info, tables } as DatabaseManifest), `database manifest ${id.slice(0, 12)}`);
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
