import { OcvaultError } from '../errors/OcvaultError.js';
import { isBlobId, type BlobId } from './blobId.js';

export type SnapshotKind = 'full' | 'differential' | 'incremental';

export interface SnapshotStats {
  files: number;
  dirs: number;
  /** bytes of file content the snapshot covers */
  bytes: number;
  newFiles: number;
  changedFiles: number;
  unchangedFiles: number;
  /** bytes this snapshot added to the repository (sealed blob bytes) */
  addedBytes: number;
  addedBlobs: number;
  durationMs: number;
  errors: number;
}

export interface DatabaseStats {
  /** where it was dumped from, without credentials */
  source: string;
  database: string;
  tables: number;
  rows: number;
  rowBytes: number;
  addedBytes: number;
  durationMs: number;
  /** how consistency was obtained and what was locked for how long */
  lockStrategy: string;
  lockedMs: number;
  binlog?: { file: string; position: number; gtid?: string };
}

/**
 * snapshots/<id>: one complete, restorable manifest. `tree` is the root: for a single
 * directory its contents, otherwise one entry per backed-up path (named by its base name).
 * `database` points at a database manifest tree (see sources/mysql), when one was dumped.
 */
export interface Snapshot {
  version: 1;
  time: string;
  host: string;
  user: string;
  kind: SnapshotKind;
  parent?: string;
  tags: string[];
  paths: string[];
  store?: string;
  tree?: BlobId;
  database?: BlobId;
  /** what the database part covered, when there is one */
  databaseStats?: DatabaseStats;
  meta?: Record<string, string>;
  stats: SnapshotStats;
  /** names of files that could not be read completely */
  warnings?: string[];
}

export function encodeSnapshot(s: Snapshot): Buffer {
  return Buffer.from(JSON.stringify(s));
}

export function decodeSnapshot(bytes: Uint8Array, name: string): Snapshot {
  const bad = (why: string): OcvaultError => new OcvaultError('CorruptObject', `snapshot ${name.slice(0, 12)} is malformed: ${why}`, { snapshot: name });
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw bad('not JSON');
  }
  const s = v as Partial<Snapshot>;
  if (s.version !== 1) throw bad('unknown version');
  if (typeof s.time !== 'string' || Number.isNaN(Date.parse(s.time))) throw bad('time');
  if (s.kind !== 'full' && s.kind !== 'differential' && s.kind !== 'incremental') throw bad('kind');
  if (!Array.isArray(s.paths) || !Array.isArray(s.tags)) throw bad('paths or tags');
  if (s.tree !== undefined && !isBlobId(s.tree)) throw bad('tree id');
  if (s.database !== undefined && !isBlobId(s.database)) throw bad('database id');
  if (typeof s.stats !== 'object' || s.stats === null) throw bad('stats');
  return s as Snapshot;
}
