import type { Repository } from '../repo/repository.js';

export interface RepoStats {
  id: string;
  location: string;
  cipher: string;
  snapshots: number;
  packs: number;
  blobs: number;
  treeBlobs: number;
  /** bytes of packs in the repository */
  storedBytes: number;
  /** uncompressed bytes of the unique blobs */
  rawBytes: number;
  /** what the snapshots cover, summed (the size a restore of each would write) */
  snapshotBytes: number;
  /** snapshotBytes / storedBytes */
  ratio: number;
}

export function repoStats(repo: Repository): RepoStats {
  const c = repo.index.counts();
  const snaps = repo.snapshots();
  const snapshotBytes = snaps.reduce((n, s) => n + (s.snapshot.stats?.bytes ?? 0), 0);
  return {
    id: repo.config.id,
    location: repo.backend.location,
    cipher: repo.config.cipher,
    snapshots: snaps.length,
    packs: c.packs,
    blobs: c.blobs,
    treeBlobs: c.treeBlobs,
    storedBytes: c.packBytes,
    rawBytes: c.rawBytes,
    snapshotBytes,
    ratio: c.packBytes ? snapshotBytes / c.packBytes : 0,
  };
}
