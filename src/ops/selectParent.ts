import type { Snapshot, SnapshotKind } from '../repo/snapshot.js';

export function samePaths(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  return x.every((p, i) => p === y[i]);
}

/**
 * The parent a new snapshot is compared with: incremental — the latest snapshot of the same
 * paths and host; differential — the latest full one; full — none (every file is read).
 */
export function selectParent(all: readonly { id: string; snapshot: Snapshot }[], kind: SnapshotKind, paths: readonly string[], host: string, store?: string): { id: string; snapshot: Snapshot } | undefined {
  const candidates = all.filter((s) => s.snapshot.host === host && samePaths(s.snapshot.paths, paths) && s.snapshot.store === store);
  if (kind === 'full') return undefined;
  const pool = kind === 'differential' ? candidates.filter((s) => s.snapshot.kind === 'full') : candidates;
  return pool[pool.length - 1];
}
