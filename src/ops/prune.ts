import pLimit from 'p-limit';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import { encodeIndexSegment, type IndexSegment } from '../repo/indexSegment.js';
import { sealObject } from '../repo/objectCodec.js';
import { PackWriter, type WrittenPack } from '../repo/packWriter.js';
import { IndexView } from './indexView.js';
import { describeRef, referencedBlobs, snapshotRoots, type BlobRef } from './references.js';
import { planPrune, type MaxUnused, type PrunePlan } from './prunePlan.js';

export interface PruneOptions {
  /** unused space tolerated before packs are repacked (default 5%, like restic) */
  maxUnused?: MaxUnused;
  dryRun?: boolean;
  /**
   * A pack no index lists may be a backup's upload whose index is not written yet; it is
   * deleted only when an earlier prune already saw it unindexed at least this long ago
   * (default 24 h; 0 deletes at once). Packs a superseded index listed are deleted at once.
   */
  orphanGraceMs?: number;
  now?: Date;
  onProgress?: (phase: 'snapshots' | 'index' | 'repack' | 'delete', done: number, total: number) => void;
}

export interface PruneOrphan {
  id: string;
  size: number;
  action: 'delete' | 'keep';
  reason: string;
}

export interface PruneResult {
  dryRun: boolean;
  snapshots: number;
  blobs: { used: number; unused: number };
  packs: { before: number; after: number; deleted: number; repacked: number; written: number; droppedFromIndex: number };
  bytes: { before: number; after: number; freed: number; repacked: number; unusedBefore: number; unusedAfter: number; maxUnused: number };
  segments: { written: number; removed: number };
  orphans: PruneOrphan[];
  durationMs: number;
}

export const DEFAULT_MAX_UNUSED: MaxUnused = { percent: 5 };
export const DEFAULT_ORPHAN_GRACE_MS = 24 * 3600 * 1000;
const PACKS_PER_SEGMENT = 256;
const ORPHANS_META = 'prune.orphansSeen';

/**
 * Removes what no snapshot references, under the exclusive lock. Order, so that a crash at any
 * point leaves a valid repository:
 *  1. used blobs copied out of packs to repack, into new packs (unindexed until step 2);
 *  2. new index segments written: every kept and new pack; the last one supersedes every old
 *     segment, so until it is stored the old index is in force, and after it the new one;
 *  3. only now the packs the new index leaves out are deleted;
 *  4. then the old segments (readers ignore them already). Deleting them last means that after
 *     a crash in step 3 the packs still to delete are listed by a superseded segment, which
 *     marks them as prune leftovers: the next prune deletes them without a grace period.
 * Nothing is changed when a snapshot cannot be walked or a used blob is missing.
 */
export async function prune(repo: Repository, opts: PruneOptions = {}): Promise<PruneResult> {
  const started = Date.now();
  const now = (opts.now ?? new Date()).getTime();
  await repo.lockExclusive();
  await repo.syncIndex();
  await repo.syncSnapshots();
  const snapshots = repo.snapshots();

  // What every snapshot references (through the local index, just synced).
  let walked = 0;
  const treeErrors: string[] = [];
  const used = await referencedBlobs(
    (id) => repo.loadBlob(id),
    snapshots.flatMap((s) => snapshotRoots(s.snapshot)),
    {
      onRef: (r: BlobRef) => {
        if (r.kind !== 'data') opts.onProgress?.('snapshots', ++walked, 0);
      },
      onTreeError: (ref, e) => treeErrors.push(`${describeRef(ref)}: ${e instanceof Error ? e.message : String(e)}`),
    },
  );
  if (treeErrors.length > 0) {
    throw new OcvaultError('CorruptObject', `prune stopped before changing anything: ${treeErrors.length} tree(s) of the snapshots cannot be read (${treeErrors[0]}); run 'ocvault check', then 'ocvault repair snapshots'`);
  }

  const view = await IndexView.load(repo, repo.backend, (d, t) => opts.onProgress?.('index', d, t));
  if (view.damaged.length > 0) {
    throw new OcvaultError('CorruptObject', `prune stopped before changing anything: index/${view.damaged[0]!.name} is damaged (${view.damaged[0]!.message}); run 'ocvault repair index' first`, { index: view.damaged[0]!.name });
  }
  const stored = new Map((await repo.backend.list('data')).map((o) => [o.name, o.size] as const));
  const plan = planPrune({ view, stored, used: new Set(used.keys()), maxUnused: opts.maxUnused ?? DEFAULT_MAX_UNUSED });
  if (plan.lost.length > 0) {
    const l = plan.lost[0]!;
    throw new OcvaultError('CorruptObject', `prune stopped before changing anything: ${plan.lost.length} blob(s) the snapshots use are missing (blob ${l.blob.slice(0, 12)}${l.packs.length ? ` was in pack ${l.packs[0]}` : ' is in no index'}); run 'ocvault check'`, { blob: l.blob });
  }
  const orphans = decideOrphans(repo, plan, now, opts.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS);
  const deleteOrphans = orphans.filter((o) => o.action === 'delete');
  const changesIndex = plan.unused.length + plan.repack.length + plan.missingUnused.length > 0;

  const before = [...stored.values()].reduce((n, s) => n + s, 0);
  const result: PruneResult = {
    dryRun: opts.dryRun === true,
    snapshots: snapshots.length,
    blobs: { used: plan.stats.usedBlobs, unused: plan.stats.unusedBlobs },
    packs: { before: stored.size, after: stored.size, deleted: plan.unused.length + deleteOrphans.length, repacked: plan.repack.length, written: 0, droppedFromIndex: plan.missingUnused.length },
    bytes: {
      before,
      after: before,
      freed: 0,
      repacked: plan.stats.repackBytes,
      unusedBefore: plan.stats.unusedBytes,
      unusedAfter: plan.stats.unusedBytesAfter,
      maxUnused: plan.stats.maxUnusedBytes,
    },
    segments: { written: 0, removed: 0 },
    orphans,
    durationMs: 0,
  };
  const gone = [...plan.unused, ...plan.repack.map((r) => r.pack)].reduce((n, p) => n + (stored.get(p.id) ?? p.size), 0) + deleteOrphans.reduce((n, o) => n + o.size, 0);
  if (opts.dryRun) {
    result.bytes.after = before - gone + plan.stats.repackBytes;
    result.bytes.freed = before - result.bytes.after;
    result.packs.after = stored.size - result.packs.deleted - plan.repack.length + Math.ceil(plan.stats.repackBytes / repo.config.packSize);
    result.durationMs = Date.now() - started;
    return result;
  }

  // 1. repack
  const written = plan.repack.length > 0 ? await repack(repo, plan, (d, t) => opts.onProgress?.('repack', d, t)) : [];

  // 2. the new index
  if (changesIndex) {
    repo.checkLock();
    const packs = [...plan.keep.map((p) => ({ id: p.id, size: p.size, blobs: p.blobs })), ...written];
    const segments: IndexSegment[] = [];
    for (let i = 0; i < packs.length || segments.length === 0; i += PACKS_PER_SEGMENT) segments.push({ version: 1, supersedes: [], packs: packs.slice(i, i + PACKS_PER_SEGMENT) });
    segments[segments.length - 1]!.supersedes = view.segments;
    // The local index is emptied first and the segments stored straight to the repository: if
    // prune dies from here on, the next open rebuilds the cache from the repository (where the
    // new segment supersedes the old ones) rather than trusting rows for packs being deleted.
    // (repo.saveIndexSegment would add the new segment to the cache without its `supersedes`.)
    repo.clearIndexedBlobs();
    for (const seg of segments) await storeSegment(repo, seg);
    result.segments.written = segments.length;
  }

  // 3. packs no index lists any more
  const doomed = [...plan.unused.map((p) => p.id), ...plan.repack.map((r) => r.pack.id), ...deleteOrphans.map((o) => o.id)];
  repo.checkLock();
  const limit = pLimit(8);
  let deleted = 0;
  await settleAll(doomed.map((id) => limit(async () => {
    await repo.backend.remove('data', id);
    opts.onProgress?.('delete', ++deleted, doomed.length);
  })));

  // 4. the superseded segments (all old ones, or leftovers of an interrupted prune or repair)
  const oldSegments = changesIndex ? view.segments : [...view.superseded];
  for (const name of oldSegments) await repo.backend.remove('index', name);
  result.segments.removed = oldSegments.length;
  if (changesIndex) await repo.reloadIndex();
  rememberOrphans(repo, orphans, now);

  const writtenBytes = written.reduce((n, p) => n + p.size, 0);
  result.packs.written = written.length;
  result.packs.after = stored.size - doomed.length + written.length;
  result.bytes.after = before - gone + writtenBytes;
  result.bytes.freed = before - result.bytes.after;
  result.durationMs = Date.now() - started;
  return result;
}

/** Copies the chosen blobs of the packs to repack into new packs, verifying each on the way. */
async function repack(repo: Repository, plan: PrunePlan, onProgress: (done: number, total: number) => void): Promise<WrittenPack[]> {
  const written: WrittenPack[] = [];
  const writer = (): PackWriter => new PackWriter(repo.backend, repo.sealer, repo.hasher, repo.config.packSize, (p) => written.push(p));
  const writers = { data: writer(), tree: writer() };
  repo.startWorkers();
  const limit = pLimit(2);
  let done = 0;
  let failed = false;
  const copied = settleAll(
    plan.repack.map((r) =>
      limit(async () => {
        if (failed) return;
        let bytes: Buffer;
        try {
          bytes = await repo.backend.load('data', r.pack.id, undefined, { once: true });
        } catch (e) {
          if (e instanceof OcvaultError && e.code === 'ObjectNotFound') throw new OcvaultError('CorruptObject', `prune stopped: pack ${r.pack.id} vanished while being repacked; nothing was deleted`, { pack: r.pack.id });
          throw e;
        }
        for (const b of [...r.copy].sort((x, y) => x.offset - y.offset)) {
          if (b.offset + b.length > bytes.length) throw new OcvaultError('CorruptObject', `prune stopped: pack ${r.pack.id} is shorter than its index says; nothing was deleted (run 'ocvault check')`, { pack: r.pack.id });
          const sealed = bytes.subarray(b.offset, b.offset + b.length);
          try {
            await repo.openBlobAnywhere(b.id, sealed, `blob ${b.id.slice(0, 12)} in pack ${r.pack.id}`);
          } catch (e) {
            if (!(e instanceof OcvaultError)) throw e;
            throw new OcvaultError('CorruptObject', `prune stopped: ${e.message}; nothing was deleted (run 'ocvault check --read-data')`, { pack: r.pack.id, blob: b.id });
          }
          await writers[b.type].add(b.id, b.type, Buffer.from(sealed), b.rawLength);
        }
        onProgress(++done, plan.repack.length);
      }).catch((e: unknown) => {
        failed = true;
        throw e;
      }),
    ),
  );
  try {
    await copied;
  } catch (e) {
    // let uploads already under way end before reporting (their packs stay unindexed orphans)
    await Promise.allSettled([writers.data.flush(), writers.tree.flush()]);
    throw e;
  }
  await writers.data.flush();
  await writers.tree.flush();
  return written;
}

async function storeSegment(repo: Repository, seg: IndexSegment): Promise<void> {
  const bytes = sealObject(repo.sealer, encodeIndexSegment(seg), repo.config.compression.level);
  await repo.backend.save('index', repo.hasher.plain(bytes).toString('hex'), bytes);
}

/** Waits for every task, then throws the first failure (nothing is left running behind an error). */
async function settleAll(tasks: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}

/** Which unindexed packs to delete now (see PruneOptions.orphanGraceMs). */
function decideOrphans(repo: Repository, plan: PrunePlan, now: number, graceMs: number): PruneOrphan[] {
  const seen = readSeen(repo);
  return plan.orphans.map((o): PruneOrphan => {
    if (o.formerlyIndexed) return { ...o, action: 'delete', reason: 'left by an interrupted prune or repair (a superseded index listed it)' };
    if (graceMs <= 0) return { ...o, action: 'delete', reason: 'in no index (no grace period)' };
    const first = seen[o.id];
    if (first !== undefined && now - first >= graceMs) return { ...o, action: 'delete', reason: `in no index since at least ${new Date(first).toISOString()}` };
    const hours = Math.round((graceMs / 3_600_000) * 10) / 10;
    return { ...o, action: 'keep', reason: `in no index since ${new Date(first ?? now).toISOString()}: it may be a backup still being written; a prune deletes it once it has been unindexed for ${hours} h` };
  });
}

function readSeen(repo: Repository): Record<string, number> {
  try {
    const v = JSON.parse(repo.index.getMeta(ORPHANS_META) ?? '{}') as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, number>) : {};
  } catch {
    return {};
  }
}

function rememberOrphans(repo: Repository, orphans: PruneOrphan[], now: number): void {
  const seen = readSeen(repo);
  const next: Record<string, number> = {};
  for (const o of orphans) if (o.action === 'keep') next[o.id] = seen[o.id] ?? now;
  repo.index.setMeta(ORPHANS_META, JSON.stringify(next));
}
