import pLimit from 'p-limit';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { Backend } from '../storage/Backend.js';
import type { BlobId } from '../repo/blobId.js';
import type { Snapshot } from '../repo/snapshot.js';
import { decodeTree, encodeTree, type TreeNode } from '../repo/tree.js';
import { decodeTableManifest, type TableManifest } from '../sources/mysql/index.js';
import { decodeStoredDatabase } from './databaseSnapshot.js';
import { expandTableManifest } from './storedTable.js';
import { DATABASE_PATH, joinPath } from './references.js';
import { IndexView } from './indexView.js';
import { verifyPack } from './verifyPack.js';

export interface RepairSnapshotsOptions {
  /** only these snapshots (default: all) */
  snapshots?: string[];
  /** remove each original once its repaired copy is stored, and unreadable snapshot objects */
  forget?: boolean;
  dryRun?: boolean;
  /** also read every pack, so blobs that are stored but damaged count as lost too */
  readData?: boolean;
  /** the unfiltered backend when the repository was opened tolerantly (default repo.backend) */
  backend?: Backend;
}

export interface RepairChange {
  /** file, directory ('/' at the end) or [database]/<table> */
  path: string;
  what: string;
  /** file bytes the repaired snapshot no longer has (when known) */
  bytes?: number;
}

export interface RepairedSnapshot {
  original: string;
  time: string;
  /** the new snapshot; null when nothing could be salvaged or on a dry run */
  repaired: string | null;
  /** set when an earlier run already stored a repaired copy (none is made again) */
  alreadyRepaired?: string;
  changes: RepairChange[];
  forgotten: boolean;
}

export interface RepairSnapshotsResult {
  dryRun: boolean;
  checked: number;
  repaired: RepairedSnapshot[];
  /** snapshot objects that cannot be read at all */
  unreadable: { id: string; message: string; removed: boolean }[];
}

const REPAIRED_TAG = 'repaired';

/**
 * Salvages snapshots that reference lost data, like restic's `repair snapshots`: a file keeps
 * the chunks that are still there (its size shrinks to match) and is named in the new snapshot's
 * warnings; a directory that cannot be read becomes an empty one; a database table with lost
 * rows (or an unreadable manifest) is left out. The new snapshot keeps the original's time and
 * tags plus `repaired`, and `meta.repairedFrom`. Blobs first, then the index, then snapshots;
 * originals are removed (with `forget`) only after their replacement is stored.
 */
export async function repairSnapshots(repo: Repository, opts: RepairSnapshotsOptions = {}): Promise<RepairSnapshotsResult> {
  const backend = opts.backend ?? repo.backend;
  if (!opts.dryRun) await repo.lockExclusive();
  await repo.syncIndex();
  await repo.syncSnapshots();

  const stored = new Map((await backend.list('data')).map((o) => [o.name, o.size] as const));
  const lost = opts.readData ? await damagedBlobs(repo, backend) : new Set<BlobId>();
  const available = (id: BlobId): boolean => {
    if (lost.has(id)) return false;
    const loc = repo.index.find(id);
    if (!loc) return false;
    const size = stored.get(loc.pack);
    return size !== undefined && loc.offset + loc.length <= size;
  };
  const rawLength = (id: BlobId): number => repo.index.find(id)!.rawLength;
  const load = async (id: BlobId): Promise<Buffer> => {
    if (!available(id)) throw new OcvaultError('BlobNotFound', `blob ${id.slice(0, 12)} is lost`);
    return repo.loadBlob(id);
  };
  const saveTree = async (plain: Buffer): Promise<BlobId> => {
    if (opts.dryRun) return repo.hasher.keyed(repo.master.id, plain).toString('hex');
    return (await repo.saveBlob('tree', plain)).id;
  };

  const dirs = new Map<BlobId, Promise<{ id: BlobId; changes: RepairChange[] }>>();
  const rewriteDir = (id: BlobId): Promise<{ id: BlobId; changes: RepairChange[] }> => {
    let p = dirs.get(id);
    if (!p) dirs.set(id, (p = rewriteDirOnce(id)));
    return p;
  };
  const rewriteDirOnce = async (id: BlobId): Promise<{ id: BlobId; changes: RepairChange[] }> => {
    let nodes: TreeNode[];
    try {
      nodes = decodeTree(await load(id), id).nodes;
    } catch (e) {
      if (!(e instanceof OcvaultError)) throw e;
      return { id: await saveTree(encodeTree({ nodes: [] })), changes: [{ path: '/', what: `directory could not be read (${e.message}); replaced by an empty directory` }] };
    }
    const changes: RepairChange[] = [];
    const out: TreeNode[] = [];
    for (const n of nodes) {
      if (n.type === 'file') {
        const kept = n.content!.filter(available);
        if (kept.length === n.content!.length) out.push(n);
        else {
          const size = kept.reduce((s, c) => s + rawLength(c), 0);
          out.push({ ...n, content: kept, size });
          changes.push({ path: n.name, what: `${n.content!.length - kept.length} of ${n.content!.length} chunk(s) lost; ${n.size! - size} bytes removed, ${size} kept`, bytes: n.size! - size });
        }
      } else if (n.type === 'dir') {
        const sub = await rewriteDir(n.subtree!);
        out.push(sub.id === n.subtree ? n : { ...n, subtree: sub.id });
        for (const c of sub.changes) changes.push({ ...c, path: c.path === '/' ? `${n.name}/` : joinPath(n.name, c.path) });
      } else out.push(n);
    }
    if (changes.length === 0) return { id, changes };
    return { id: await saveTree(encodeTree({ nodes: out })), changes };
  };

  const rewriteDatabase = async (id: BlobId): Promise<{ id: BlobId | undefined; changes: RepairChange[] }> => {
    let stored: ReturnType<typeof decodeStoredDatabase>;
    try {
      stored = decodeStoredDatabase(await load(id), id);
    } catch (e) {
      if (!(e instanceof OcvaultError)) throw e;
      return { id: undefined, changes: [{ path: DATABASE_PATH, what: `database manifest could not be read (${e.message}); database left out` }] };
    }
    const changes: RepairChange[] = [];
    const tables: BlobId[] = [];
    for (const t of stored.tables) {
      try {
        const storedTable = decodeTableManifest(await load(t), t);
        let m: TableManifest;
        try {
          m = await expandTableManifest(storedTable, load);
        } catch (e) {
          if (!(e instanceof OcvaultError)) throw e;
          changes.push({ path: `${DATABASE_PATH}/${storedTable.name}`, what: `a row group could not be read (${e.message}); table left out` });
          continue;
        }
        const missing = m.rowData.filter((r) => !available(r)).length;
        if (missing === 0) tables.push(t);
        else changes.push({ path: `${DATABASE_PATH}/${m.name}`, what: `${missing} of ${m.rowData.length} row chunk(s) lost; table left out` });
      } catch (e) {
        if (!(e instanceof OcvaultError)) throw e;
        changes.push({ path: `${DATABASE_PATH}/(table ${t.slice(0, 12)})`, what: `table manifest could not be read (${e.message}); table left out` });
      }
    }
    if (changes.length === 0) return { id, changes };
    return { id: await saveTree(Buffer.from(JSON.stringify({ ...stored, tables }))), changes };
  };

  const wanted = opts.snapshots?.length ? new Set(opts.snapshots.map((r) => repo.resolveSnapshot(r).id)) : undefined;
  const list = repo.snapshots().filter((s) => !wanted || wanted.has(s.id));
  const repairedBefore = new Map(repo.snapshots().filter((s) => s.snapshot.meta?.repairedFrom).map((s) => [s.snapshot.meta!.repairedFrom!, s.id]));
  const plans: { id: string; original: Snapshot; next: Snapshot | null; changes: RepairChange[]; already?: string }[] = [];
  for (const { id, snapshot } of list) {
    const changes: RepairChange[] = [];
    let tree = snapshot.tree;
    let database = snapshot.database;
    if (tree) {
      const r = await rewriteDir(tree);
      const rootLost = r.changes.some((c) => c.path === '/');
      tree = rootLost ? undefined : r.id;
      changes.push(...(rootLost ? [{ path: '/', what: 'the root directory could not be read; files left out' }] : r.changes));
    }
    if (database) {
      const r = await rewriteDatabase(database);
      database = r.id;
      changes.push(...r.changes);
    }
    if (changes.length === 0) continue;
    const already = repairedBefore.get(id);
    let next: Snapshot | null = null;
    if (already) {
      plans.push({ id, original: snapshot, next: null, changes, already });
      continue;
    }
    if (tree || database) {
      const lostBytes = changes.reduce((n, c) => n + (c.bytes ?? 0), 0);
      const { tree: _t, database: _d, ...rest } = snapshot;
      next = {
        ...rest,
        ...(tree ? { tree } : {}),
        ...(database ? { database } : {}),
        tags: [...new Set([...snapshot.tags, REPAIRED_TAG])],
        meta: { ...snapshot.meta, repairedFrom: id },
        stats: { ...snapshot.stats, bytes: Math.max(0, snapshot.stats.bytes - lostBytes) },
        warnings: [...(snapshot.warnings ?? []), ...changes.map((c) => `${c.path}: ${c.what}`)],
      };
    }
    plans.push({ id, original: snapshot, next, changes });
  }

  const unreadable = await unreadableSnapshots(repo, backend, wanted);
  const result: RepairSnapshotsResult = { dryRun: opts.dryRun === true, checked: list.length, repaired: [], unreadable: [] };
  if (!opts.dryRun) await repo.flush();
  for (const p of plans) {
    const repaired = p.next && !opts.dryRun ? await repo.saveSnapshot(p.next) : null;
    let forgotten = false;
    if (opts.forget && !opts.dryRun) {
      await repo.removeSnapshot(p.id);
      forgotten = true;
    }
    result.repaired.push({ original: p.id, time: p.original.time, repaired, changes: p.changes, forgotten, ...(p.already ? { alreadyRepaired: p.already } : {}) });
  }
  for (const u of unreadable) {
    const removed = opts.forget === true && !opts.dryRun;
    if (removed) {
      repo.checkLock();
      await backend.remove('snapshots', u.id);
    }
    result.unreadable.push({ ...u, removed });
  }
  return result;
}

/** Snapshot objects in the repository that do not load (the local list never had them). */
async function unreadableSnapshots(repo: Repository, backend: Backend, wanted: Set<string> | undefined): Promise<{ id: string; message: string }[]> {
  if (wanted) return [];
  const known = new Set(repo.snapshots().map((s) => s.id));
  const out: { id: string; message: string }[] = [];
  for (const o of await backend.list('snapshots')) {
    if (known.has(o.name)) continue;
    try {
      await repo.loadSnapshot(o.name);
    } catch (e) {
      if (!(e instanceof OcvaultError)) throw e;
      if (e.code !== 'ObjectNotFound') out.push({ id: o.name, message: e.message });
    }
  }
  return out;
}

/** Blobs whose stored copy fails verification (every pack read). */
async function damagedBlobs(repo: Repository, backend: Backend): Promise<Set<BlobId>> {
  const view = await IndexView.load(repo, backend);
  repo.startWorkers();
  const out = new Set<BlobId>();
  const limit = pLimit(2);
  await Promise.all([...view.packs.values()].map((p) => limit(async () => {
    for (const id of (await verifyPack(repo, backend, p)).damagedBlobs.keys()) out.add(id);
  })));
  // conservative: a blob with a damaged copy counts as lost even if another copy is intact,
  // since the index may send a restore to the damaged one
  return out;
}
