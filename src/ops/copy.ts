import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import { BlobCopier, type CopyBase, type CopyStats } from './blobCopier.js';

export interface CopyOptions {
  /** snapshot references in the source ('latest', ids, prefixes); empty: every snapshot */
  snapshots: string[];
  /** told about each snapshot as it is done */
  onSnapshot?: (r: CopiedSnapshot) => void;
}

export interface CopiedSnapshot {
  source: string;
  /** the copy in the target (also when it was there already) */
  target: string;
  /** true when the target had this snapshot already */
  skipped: boolean;
  stats: CopyStats;
}

export interface CopyResult {
  snapshots: CopiedSnapshot[];
  /** whether content was cut again by the target's chunker (repositories with their own keys) */
  rechunked: boolean;
}

/** `meta` keys a copy records, so a snapshot is never copied twice. */
export const COPIED_FROM = 'copiedFrom';
export const COPIED_FROM_REPOSITORY = 'copiedFromRepository';

/** Do the two repositories cut and name blobs alike (same id and chunker keys and sizes)? */
function sharesChunker(a: Repository, b: Repository): boolean {
  const same = (x: object, y: object): boolean => JSON.stringify(x) === JSON.stringify(y);
  return a.master.id.equals(b.master.id) && a.master.chunker.equals(b.master.chunker) && same(a.config.chunker, b.config.chunker) && same(a.config.dbChunker, b.config.dbChunker);
}

/**
 * Copies snapshots into another repository, oldest first, skipping those the target already
 * holds (a copy records `meta.copiedFrom`). Each copy is complete on its own: packs, then index,
 * then the snapshot object, as for a backup. A snapshot whose parent was copied before reuses
 * everything unchanged since then, so copying each new backup off-server costs about what the
 * backup itself added.
 */
export async function copySnapshots(src: Repository, dst: Repository, opts: CopyOptions): Promise<CopyResult> {
  if (src.config.id === dst.config.id) throw new OcvaultError('Usage', 'the source and the target are the same repository');
  await src.lockShared();
  await dst.lockShared();
  const all = src.snapshots();
  const chosen = opts.snapshots.length ? [...new Map(opts.snapshots.map((r) => src.resolveSnapshot(r)).map((s) => [s.id, s])).values()] : all;
  chosen.sort((a, b) => a.snapshot.time.localeCompare(b.snapshot.time));

  // source id → its copy in the target
  const copies = new Map<string, { id: string; snapshot: Snapshot }>();
  for (const s of dst.snapshots()) {
    const from = s.snapshot.meta?.[COPIED_FROM];
    if (from) copies.set(from, s);
  }
  const targetIds = new Set(dst.snapshots().map((s) => s.id));
  const shared = sharesChunker(src, dst);
  const workers = shared ? undefined : dst.startWorkers();
  src.startWorkers();
  const bySrcId = new Map(all.map((s) => [s.id, s.snapshot]));

  const results: CopiedSnapshot[] = [];
  for (const { id, snapshot } of chosen) {
    const already = copies.get(id) ?? (targetIds.has(id) ? { id, snapshot } : undefined) ?? originInTarget(snapshot, targetIds);
    if (already) {
      const r: CopiedSnapshot = { source: id, target: already.id, skipped: true, stats: { addedBytes: 0, addedBlobs: 0, rechunkedBytes: 0, reused: 0 } };
      results.push(r);
      opts.onSnapshot?.(r);
      continue;
    }
    const base = copyBase(snapshot, bySrcId, copies);
    const copier = new BlobCopier(src, dst, shared, workers);
    const copy: Snapshot = { ...snapshot, meta: { ...(snapshot.meta ?? {}), [COPIED_FROM]: id, [COPIED_FROM_REPOSITORY]: src.config.id } };
    if (snapshot.tree) copy.tree = await copier.copyTree(snapshot.tree, base.srcTree, base.dstTree);
    if (snapshot.database) copy.database = await copier.copyDatabase(snapshot.database, base.srcDatabase, base.dstDatabase);
    const parentCopy = snapshot.parent ? copies.get(snapshot.parent) : undefined;
    if (parentCopy) copy.parent = parentCopy.id;
    else delete copy.parent;
    await dst.flush();
    const target = await dst.saveSnapshot(copy);
    copies.set(id, { id: target, snapshot: copy });
    const r: CopiedSnapshot = { source: id, target, skipped: false, stats: copier.stats };
    results.push(r);
    opts.onSnapshot?.(r);
  }
  return { snapshots: results, rechunked: !shared };
}

/** A snapshot that is itself a copy of one the target holds (copying back to its origin). */
function originInTarget(s: Snapshot, targetIds: Set<string>): { id: string; snapshot: Snapshot } | undefined {
  const from = s.meta?.[COPIED_FROM];
  return from && targetIds.has(from) ? { id: from, snapshot: s } : undefined;
}

/**
 * The earlier copied snapshot to compare with: the parent when it was copied, else the newest
 * copied snapshot of the same host and paths.
 */
function copyBase(s: Snapshot, bySrcId: Map<string, Snapshot>, copies: Map<string, { id: string; snapshot: Snapshot }>): CopyBase {
  let srcId = s.parent && copies.has(s.parent) ? s.parent : undefined;
  if (!srcId) {
    let best: string | undefined;
    for (const [id] of copies) {
      const cand = bySrcId.get(id);
      if (!cand || cand.host !== s.host || cand.paths.join('\0') !== s.paths.join('\0') || cand.time > s.time) continue;
      if (!best || bySrcId.get(best)!.time < cand.time) best = id;
    }
    srcId = best;
  }
  if (!srcId) return {};
  const before = bySrcId.get(srcId)!;
  const copy = copies.get(srcId)!.snapshot;
  return { srcTree: before.tree, dstTree: copy.tree, srcDatabase: before.database, dstDatabase: copy.database };
}
