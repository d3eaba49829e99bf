import pLimit from 'p-limit';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { Backend } from '../storage/Backend.js';
import type { BlobId } from '../repo/blobId.js';
import type { Snapshot } from '../repo/snapshot.js';
import { IndexView } from './indexView.js';
import { describeRef, referencedBlobs, snapshotRoots, type BlobLoader } from './references.js';
import { DamageImpact } from './damageImpact.js';
import { describeSubset, selectPacks, verifyPack, type ReadDataSubset } from './verifyPack.js';

export interface CheckOptions {
  /** read and verify every blob of these packs */
  readData?: ReadDataSubset;
  /** the unfiltered backend when the repository was opened tolerantly (default repo.backend) */
  backend?: Backend;
  onProgress?: (phase: 'index' | 'snapshots' | 'trees' | 'read-data' | 'impact', done: number, total: number) => void;
}

export interface CheckProblem {
  kind: 'index' | 'pack' | 'snapshot' | 'tree' | 'blob';
  /** the object: index/<name>, a pack id, a snapshot id, a blob id */
  object: string;
  message: string;
}

export interface CheckInfo {
  kind: 'orphan-pack' | 'unused-blobs' | 'superseded-index';
  object?: string;
  message: string;
}

export interface AffectedSnapshot {
  id: string;
  time: string;
  /** affected files and tables ([database]/<table>); a path ending in '/' is a whole directory */
  files: string[];
}

/** Damage grouped by where it lies: a pack, or no pack at all (blobs no index lists). */
export interface PackDamage {
  pack: string | null;
  problems: string[];
  blobs: { id: BlobId; problem: string }[];
  snapshots: AffectedSnapshot[];
}

export interface CheckReport {
  ok: boolean;
  snapshots: number;
  segments: number;
  packs: number;
  blobs: number;
  referencedBlobs: number;
  readData: { subset: string; packs: number; of: number; bytes: number } | null;
  errors: CheckProblem[];
  info: CheckInfo[];
  damage: PackDamage[];
  durationMs: number;
}

interface BlobDamage {
  pack: string | null;
  problem: string;
}

/**
 * Verifies a repository from its objects alone (not the local cache): every index segment reads
 * and every pack it lists exists with its size; every snapshot reads, its trees load and every
 * blob it references is indexed; with `readData`, packs are read whole and every blob is
 * decrypted and hashed. Damage is reported per pack with the snapshots and files it affects.
 */
export async function check(repo: Repository, opts: CheckOptions = {}): Promise<CheckReport> {
  const started = Date.now();
  const backend = opts.backend ?? repo.backend;
  await repo.lockShared();
  const errors: CheckProblem[] = [];
  const info: CheckInfo[] = [];
  const damaged = new Map<BlobId, BlobDamage>();
  const packProblems = new Map<string, string[]>();
  const packProblem = (pack: string, message: string): void => {
    packProblems.set(pack, [...(packProblems.get(pack) ?? []), message]);
    errors.push({ kind: 'pack', object: pack, message: `pack ${pack}: ${message}` });
  };

  // Index segments and the packs they list.
  const view = await IndexView.load(repo, backend, (d, t) => opts.onProgress?.('index', d, t));
  for (const d of view.damaged) errors.push({ kind: 'index', object: `index/${d.name}`, message: d.message });
  for (const s of view.superseded) info.push({ kind: 'superseded-index', object: `index/${s}`, message: `index/${s} is superseded by a newer segment (left by an interrupted prune or repair; prune removes it)` });
  const stored = new Map((await backend.list('data')).map((o) => [o.name, o.size] as const));
  for (const p of view.packs.values()) {
    const size = stored.get(p.id);
    if (size === undefined) {
      packProblem(p.id, `is missing (index/${p.segment} lists it with ${p.blobs.length} blob(s))`);
      for (const b of p.blobs) damaged.set(b.id, { pack: p.id, problem: 'its pack is missing' });
      continue;
    }
    if (size !== p.size) packProblem(p.id, `has ${size} bytes, the index says ${p.size}`);
    for (const b of p.blobs) {
      if (b.offset + b.length > size) damaged.set(b.id, { pack: p.id, problem: 'lies beyond the end of its pack' });
      else if (b.offset + b.length > p.size) errors.push({ kind: 'index', object: `index/${p.segment}`, message: `index/${p.segment} places blob ${b.id.slice(0, 12)} beyond the end of pack ${p.id}` });
    }
  }
  for (const [id, size] of stored) {
    if (view.packs.has(id)) continue;
    const what = view.damaged.length > 0 ? "is in no readable index ('ocvault repair index' re-indexes it)" : view.formerlyIndexed.has(id) ? 'is in no index (left by an interrupted prune or repair); prune removes it' : 'is in no index (an interrupted backup, or one being written); prune removes it after a grace period';
    info.push({ kind: 'orphan-pack', object: id, message: `pack ${id} (${size} bytes) ${what}` });
  }

  // Snapshots.
  const names = (await backend.list('snapshots')).map((o) => o.name).sort();
  const snapshots: { id: string; snapshot: Snapshot }[] = [];
  const snapLimit = pLimit(8);
  let loadedSnaps = 0;
  await Promise.all(
    names.map((id) =>
      snapLimit(async () => {
        try {
          snapshots.push({ id, snapshot: await repo.loadSnapshot(id) });
        } catch (e) {
          if (!(e instanceof OcvaultError)) throw e;
          if (e.code !== 'ObjectNotFound') errors.push({ kind: 'snapshot', object: id, message: `snapshot ${id}: ${e.message}` });
        } finally {
          opts.onProgress?.('snapshots', ++loadedSnaps, names.length);
        }
      }),
    ),
  );
  snapshots.sort((a, b) => (a.snapshot.time < b.snapshot.time ? -1 : a.snapshot.time > b.snapshot.time ? 1 : a.id < b.id ? -1 : 1));

  // Trees: load every tree-typed blob once; note every referenced blob.
  const load: BlobLoader = async (id) => {
    const d = damaged.get(id);
    if (d) throw new OcvaultError('CorruptObject', d.problem);
    const loc = view.locate(id);
    if (!loc) throw new OcvaultError('BlobNotFound', 'is in no index');
    const sealed = await repo.loadSealed(loc);
    return repo.openBlob(id, sealed, `blob ${id.slice(0, 12)} in pack ${loc.pack}`);
  };
  let trees = 0;
  const referenced = await referencedBlobs(load, snapshots.flatMap((s) => snapshotRoots(s.snapshot)), {
    onRef: (r) => {
      if (r.kind !== 'data') opts.onProgress?.('trees', ++trees, 0);
    },
    onTreeError: (ref, e) => {
      const message = e instanceof Error ? e.message : String(e);
      if (!damaged.has(ref.id)) damaged.set(ref.id, { pack: view.locate(ref.id)?.pack ?? null, problem: message });
      errors.push({ kind: 'tree', object: ref.id, message: `${describeRef(ref)} cannot be read: ${message}` });
    },
  });
  let notIndexed = 0;
  for (const [id, type] of referenced) {
    if (view.has(id)) continue;
    notIndexed++;
    if (!damaged.has(id)) damaged.set(id, { pack: null, problem: `${type} blob is in no index` });
  }
  if (notIndexed > 0) errors.push({ kind: 'blob', object: '', message: `${notIndexed} blob(s) the snapshots reference are in no index${view.damaged.length ? ' (see the damaged index segments)' : ''}` });
  let unused = 0;
  for (const id of view.blobIds()) if (!referenced.has(id)) unused++;
  if (unused > 0) info.push({ kind: 'unused-blobs', message: `${unused} blob(s) no snapshot references; prune removes them` });

  // Read data.
  let readData: CheckReport['readData'] = null;
  if (opts.readData) {
    const candidates = [...view.packs.values()].filter((p) => stored.has(p.id)).sort((a, b) => (a.id < b.id ? -1 : 1));
    const chosen = selectPacks(candidates, opts.readData);
    repo.startWorkers();
    const limit = pLimit(2);
    let done = 0;
    let bytes = 0;
    await Promise.all(
      chosen.map((p) =>
        limit(async () => {
          const v = await verifyPack(repo, backend, p);
          bytes += v.bytes;
          for (const m of v.problems) packProblem(p.id, m);
          for (const [id, problem] of v.damagedBlobs) if (!damaged.has(id)) damaged.set(id, { pack: p.id, problem });
          if (v.damagedBlobs.size > 0 && v.problems.length === 0) packProblem(p.id, `${v.damagedBlobs.size} blob(s) are damaged`);
          opts.onProgress?.('read-data', ++done, chosen.length);
        }),
      ),
    );
    readData = { subset: describeSubset(opts.readData), packs: chosen.length, of: candidates.length, bytes };
  }

  const damage = await describeDamage(load, snapshots, damaged, packProblems, (d, t) => opts.onProgress?.('impact', d, t));
  return {
    ok: errors.length === 0,
    snapshots: snapshots.length,
    segments: view.segments.length,
    packs: view.packs.size,
    blobs: view.blobCount,
    referencedBlobs: referenced.size,
    readData,
    errors,
    info,
    damage,
    durationMs: Date.now() - started,
  };
}

/** Groups damaged blobs by pack and names the snapshots and files each pack's damage reaches. */
async function describeDamage(
  load: BlobLoader,
  snapshots: readonly { id: string; snapshot: Snapshot }[],
  damaged: ReadonlyMap<BlobId, BlobDamage>,
  packProblems: ReadonlyMap<string, string[]>,
  onProgress: (done: number, total: number) => void,
): Promise<PackDamage[]> {
  const byPack = new Map<string | null, PackDamage>();
  const entry = (pack: string | null): PackDamage => {
    let d = byPack.get(pack);
    if (!d) byPack.set(pack, (d = { pack, problems: pack ? packProblems.get(pack) ?? [] : [], blobs: [], snapshots: [] }));
    return d;
  };
  for (const [pack, problems] of packProblems) if (problems.length) entry(pack);
  for (const [id, d] of damaged) entry(d.pack).blobs.push({ id, problem: d.problem });
  if (damaged.size > 0) {
    const impact = new DamageImpact(load, new Set(damaged.keys()));
    let done = 0;
    for (const s of snapshots) {
      const hits = await impact.of(snapshotRoots(s.snapshot));
      onProgress(++done, snapshots.length);
      const perPack = new Map<string | null, Set<string>>();
      for (const h of hits) {
        const pack = damaged.get(h.blob)?.pack ?? null;
        let files = perPack.get(pack);
        if (!files) perPack.set(pack, (files = new Set()));
        files.add(h.path);
      }
      for (const [pack, files] of perPack) entry(pack).snapshots.push({ id: s.id, time: s.snapshot.time, files: [...files].sort() });
    }
  }
  return [...byPack.values()].sort((a, b) => (a.pack ?? '') < (b.pack ?? '') ? -1 : 1);
}
