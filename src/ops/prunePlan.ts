import { OcvaultError } from '../errors/OcvaultError.js';
import type { BlobId } from '../repo/blobId.js';
import type { PackEntry } from '../repo/pack.js';
import type { IndexedPack, IndexView } from './indexView.js';

/** How much unused space prune tolerates before repacking: a share of the repository or bytes. */
export type MaxUnused = { percent: number } | { bytes: number } | 'unlimited';

/** Parses `5%`, `0`, `10M`, `2G`, `1048576`, `unlimited`. */
export function parseMaxUnused(text: string): MaxUnused {
  const t = text.trim().toLowerCase();
  if (t === 'unlimited') return 'unlimited';
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (pct) {
    const percent = Number(pct[1]);
    if (percent >= 100) return 'unlimited';
    return { percent };
  }
  const size = /^(\d+(?:\.\d+)?)([kmgt]?)i?b?$/.exec(t);
  if (!size) throw new OcvaultError('Usage', `invalid --max-unused ${JSON.stringify(text)}: use a percentage (5%), a size (100M) or 'unlimited'`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[size[2] as '' | 'k' | 'm' | 'g' | 't'];
  return { bytes: Math.floor(Number(size[1]) * unit) };
}

export interface RepackPack {
  pack: IndexedPack;
  /** the used blobs this pack holds the chosen copy of: copied to new packs */
  copy: PackEntry[];
}

export interface PrunePlan {
  /** packs that stay as they are */
  keep: IndexedPack[];
  /** packs whose used blobs are copied to new packs, then deleted */
  repack: RepackPack[];
  /** indexed packs holding nothing any snapshot uses: deleted */
  unused: IndexedPack[];
  /** indexed packs missing from storage that hold nothing used: dropped from the index */
  missingUnused: IndexedPack[];
  /** used blobs no present pack holds (prune must stop) */
  lost: { blob: BlobId; packs: string[] }[];
  /** packs in storage that no index lists */
  orphans: { id: string; size: number; formerlyIndexed: boolean }[];
  stats: {
    usedBlobs: number;
    usedBytes: number;
    unusedBlobs: number;
    /** bytes of blobs without a kept copy (whole unused packs counted in full), before prune */
    unusedBytes: number;
    /** unused bytes left once the plan is carried out */
    unusedBytesAfter: number;
    packBytes: number;
    repackBytes: number;
    maxUnusedBytes: number;
  };
}

export interface PlanInput {
  view: IndexView;
  /** packs present in storage (name → size) */
  stored: ReadonlyMap<string, number>;
  used: ReadonlySet<BlobId>;
  maxUnused: MaxUnused;
}

/**
 * Decides what prune does, without touching anything. Each used blob keeps one copy: the one in
 * the fullest pack (so duplicates end up unused in emptier packs). Packs that hold no kept copy
 * are deleted; packs with unused space are repacked, emptiest share first, until the unused
 * bytes left are within --max-unused (restic's rule: a percentage is of the repository size
 * after prune, i.e. unused <= p/(100-p) × used).
 */
export function planPrune(input: PlanInput): PrunePlan {
  const { view, stored, used } = input;
  const present: IndexedPack[] = [];
  const missing: IndexedPack[] = [];
  for (const p of view.packs.values()) (stored.has(p.id) ? present : missing).push(p);

  // Choose one copy of every used blob: fullest pack first.
  const usedShare = (p: IndexedPack): number => p.blobs.reduce((n, b) => n + (used.has(b.id) ? b.length : 0), 0) / Math.max(1, p.size);
  const order = present.map((p) => ({ p, share: usedShare(p) })).sort((a, b) => b.share - a.share || (a.p.id < b.p.id ? -1 : 1));
  const claimed = new Set<BlobId>();
  const claims = new Map<string, PackEntry[]>();
  for (const { p } of order) {
    const mine: PackEntry[] = [];
    for (const b of p.blobs) {
      if (used.has(b.id) && !claimed.has(b.id)) {
        claimed.add(b.id);
        mine.push(b);
      }
    }
    claims.set(p.id, mine);
  }

  const lostBlobs = new Map<BlobId, string[]>();
  const missingUnused: IndexedPack[] = [];
  for (const p of missing) {
    const needed = p.blobs.filter((b) => used.has(b.id) && !claimed.has(b.id));
    if (needed.length === 0) missingUnused.push(p);
    for (const b of needed) lostBlobs.set(b.id, [...(lostBlobs.get(b.id) ?? []), p.id]);
  }
  for (const id of used) if (!view.has(id)) lostBlobs.set(id, []);
  const lost = [...lostBlobs].map(([blob, packs]) => ({ blob, packs }));

  const unused: IndexedPack[] = [];
  const partial: { p: IndexedPack; usedBytes: number; unusedBytes: number }[] = [];
  let usedBytes = 0;
  let unusedBytes = 0;
  let packBytes = 0;
  let unusedBlobs = 0;
  for (const p of present) {
    const mine = claims.get(p.id)!;
    const u = mine.reduce((n, b) => n + b.length, 0);
    // unused space: blobs without a kept copy here (headers are overhead, not unused)
    const waste = p.blobs.reduce((n, b) => n + b.length, 0) - u;
    usedBytes += u;
    packBytes += p.size;
    unusedBlobs += p.blobs.length - mine.length;
    if (mine.length === 0) unused.push(p);
    else {
      unusedBytes += waste;
      if (waste > 0) partial.push({ p, usedBytes: u, unusedBytes: waste });
    }
  }
  const unusedTotal = unusedBytes + unused.reduce((n, p) => n + p.size, 0);

  const m = input.maxUnused;
  const maxUnusedBytes = m === 'unlimited' ? Infinity : 'bytes' in m ? m.bytes : (usedBytes * m.percent) / (100 - m.percent);
  partial.sort((a, b) => b.unusedBytes / b.p.size - a.unusedBytes / a.p.size || (a.p.id < b.p.id ? -1 : 1));
  const repack: RepackPack[] = [];
  let left = unusedBytes;
  let repackBytes = 0;
  for (const c of partial) {
    if (left <= maxUnusedBytes) break;
    repack.push({ pack: c.p, copy: claims.get(c.p.id)! });
    left -= c.unusedBytes;
    repackBytes += c.usedBytes;
  }
  const repacked = new Set(repack.map((r) => r.pack.id));
  const keep = present.filter((p) => claims.get(p.id)!.length > 0 && !repacked.has(p.id));

  const orphans: PrunePlan['orphans'] = [];
  for (const [id, size] of stored) {
    if (!view.packs.has(id)) orphans.push({ id, size, formerlyIndexed: view.formerlyIndexed.has(id) });
  }
  orphans.sort((a, b) => (a.id < b.id ? -1 : 1));

  return {
    keep,
    repack,
    unused,
    missingUnused,
    lost,
    orphans,
    stats: {
      usedBlobs: claimed.size,
      usedBytes,
      unusedBlobs,
      unusedBytes: unusedTotal,
      unusedBytesAfter: Math.max(0, left),
      packBytes,
      repackBytes,
      maxUnusedBytes: Number.isFinite(maxUnusedBytes) ? Math.floor(maxUnusedBytes) : -1,
    },
  };
}
