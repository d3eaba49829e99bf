import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BlobId, BlobType } from './blobId.js';
import type { IndexSegment } from './indexSegment.js';
import type { Snapshot } from './snapshot.js';
import { OcvaultError, errnoCode } from '../errors/OcvaultError.js';

/** Where a blob lives. */
export interface BlobLocation {
  id: BlobId;
  type: BlobType;
  pack: string;
  offset: number;
  length: number;
  rawLength: number;
}

type SqliteModule = typeof Database;
let sqliteModule: SqliteModule | undefined;

/**
 * better-sqlite3, loaded at first use rather than with this module (~13 ms here): opening a
 * repository has it loaded while scrypt derives the key, when the main thread is idle anyway
 * (`loadNativeModules`).
 */
export function sqlite(): SqliteModule {
  return (sqliteModule ??= createRequire(import.meta.url)('better-sqlite3') as SqliteModule);
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS packs (id TEXT PRIMARY KEY, size INTEGER NOT NULL, segment TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (
  id BLOB NOT NULL, pack TEXT NOT NULL, type INTEGER NOT NULL,
  offset INTEGER NOT NULL, length INTEGER NOT NULL, raw_length INTEGER NOT NULL,
  PRIMARY KEY (id, pack)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (id TEXT PRIMARY KEY, time TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dir_trees (
  key BLOB PRIMARY KEY, tree BLOB NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,
  dirs INTEGER NOT NULL, used INTEGER NOT NULL) WITHOUT ROWID;
`;

/** A directory's tree as a backup saved it, under the key of what the backup saw (dirTreeKey.ts). */
export interface DirTree {
  tree: BlobId;
  /** the regular files under it and their bytes, and its subdirectories at any depth (a backup's counts, without walking it) */
  files: number;
  bytes: number;
  dirs: number;
  /** when a backup last saved or used it, in seconds since the epoch */
  used: number;
}

/** Directory trees no backup used for this long are forgotten (a cache miss costs a walk). */
const DIR_TREE_TTL_S = 60 * 24 * 3600;
/** A tree's `used` is refreshed when older than this, so an unchanged backup rarely writes. */
const DIR_TREE_TOUCH_S = 24 * 3600;

/**
 * Ids looked up by one statement in findMany; a batch of a few (a tree's subtrees) takes a
 * statement of FIND_SMALL, not 256 ids mostly repeated.
 */
const FIND_BATCH = 256;
const FIND_SMALL = 16;

/** Less free space than this where SQLite reports an I/O error means the disk is full. */
const NEARLY_FULL = 1024 * 1024;

function nearlyFull(dir: string): boolean {
  try {
    const st = fs.statfsSync(dir);
    return st.bavail * st.bsize < NEARLY_FULL;
  } catch {
    return false;
  }
}

/**
 * A SQLite failure as one line naming the index file. SQLite says "disk I/O error" when a
 * full disk stops it growing its journal, so an I/O error on a nearly full disk is called that.
 */
function sqliteFailure(action: 'open' | 'update', file: string, e: unknown): OcvaultError | undefined {
  const code = errnoCode(e);
  if (!code?.startsWith('SQLITE_')) return undefined;
  const full = code === 'SQLITE_FULL' || (code.startsWith('SQLITE_IOERR') && nearlyFull(path.dirname(file)));
  const why = full ? 'no space left on device' : e instanceof Error ? e.message : code;
  return new OcvaultError('StorageError', `cannot ${action} the local index ${file}: ${why}`, { file, errno: code }, { cause: e });
}

/**
 * The SQLite index in the cache directory: a copy of the index segments and the snapshot
 * list, for fast lookups. It holds nothing the repository does not: deleting it costs a
 * rebuild. Worker threads open it read-only to skip blobs that are already stored.
 */
export class LocalIndex {
  private readonly db: Database.Database;
  private readonly stmt: {
    has: Database.Statement<[Buffer]>;
    find: Database.Statement<[Buffer]>;
    insertBlob: Database.Statement<[Buffer, string, number, number, number, number]>;
    insertPack: Database.Statement<[string, number, string]>;
    insertSegment: Database.Statement<[string]>;
    dirTree: Database.Statement<[Buffer]>;
  };

  private constructor(readonly file: string, readonly readonly: boolean) {
    this.db = new (sqlite())(file, { readonly, fileMustExist: readonly });
    if (!readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.exec(SCHEMA);
    }
    this.db.pragma('cache_size = -32000');
    this.stmt = {
      has: this.db.prepare('SELECT 1 FROM blobs WHERE id = ? LIMIT 1'),
      find: this.db.prepare('SELECT pack, type, offset, length, raw_length AS rawLength FROM blobs WHERE id = ? LIMIT 1'),
      insertBlob: readonly ? (undefined as never) : this.db.prepare('INSERT OR IGNORE INTO blobs (id, pack, type, offset, length, raw_length) VALUES (?, ?, ?, ?, ?, ?)'),
      insertPack: readonly ? (undefined as never) : this.db.prepare('INSERT OR REPLACE INTO packs (id, size, segment) VALUES (?, ?, ?)'),
      insertSegment: readonly ? (undefined as never) : this.db.prepare('INSERT OR IGNORE INTO segments (name) VALUES (?)'),
      // a tree not indexed (any more) is no use: it is looked for in the same statement
      dirTree: readonly ? (undefined as never) : this.db.prepare('SELECT tree, files, bytes, dirs, used FROM dir_trees d WHERE key = ? AND EXISTS (SELECT 1 FROM blobs WHERE id = d.tree)'),
    };
  }

  static open(dir: string): LocalIndex {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, 'index.sqlite');
    try {
      return new LocalIndex(file, false);
    } catch (e) {
      throw sqliteFailure('open', file, e) ?? e;
    }
  }

  static openReadonly(file: string): LocalIndex {
    return new LocalIndex(file, true);
  }

  close(): void {
    this.db.close();
  }

  /**
   * Runs a write; a failing SQLite write (a full disk, an I/O error, a read-only cache) becomes
   * one line naming the index file instead of a bare "database or disk is full".
   */
  private write<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw sqliteFailure('update', this.file, e) ?? e;
    }
  }

  /** Does the index list any blob at all (a new repository's does not)? */
  hasAnyBlob(): boolean {
    return this.db.prepare('SELECT 1 FROM blobs LIMIT 1').get() !== undefined;
  }

  has(id: BlobId): boolean {
    return this.stmt.has.get(Buffer.from(id, 'hex')) !== undefined;
  }

  /**
   * Locations of many blobs at once (those not in the index are left out): a statement per
   * FIND_BATCH ids instead of one per id (20k blobs of a restore: ~80 -> ~50 ms, alone).
   */
  findMany(ids: Iterable<BlobId>): Map<BlobId, BlobLocation> {
    const out = new Map<BlobId, BlobLocation>();
    const all = [...ids];
    // Locations keep the caller's id strings and one string per pack: a restore holds every
    // location of a snapshot at once, and two new strings per blob were 3-4 MiB of its heap.
    const given = new Map(all.map((id) => [id, id]));
    const packs = new Map<string, string>();
    for (let i = 0; i < all.length; i += FIND_BATCH) {
      const keys = all.slice(i, i + FIND_BATCH).map((id) => Buffer.from(id, 'hex'));
      // a statement takes a fixed number of ids: a batch repeats its first to fill it
      const size = keys.length <= FIND_SMALL ? FIND_SMALL : FIND_BATCH;
      while (keys.length < size) keys.push(keys[0]!);
      for (const row of this.findStatement(size).all(...keys) as { id: Buffer; pack: string; type: number; offset: number; length: number; rawLength: number }[]) {
        const hex = row.id.toString('hex');
        const id = given.get(hex) ?? hex;
        let pack = packs.get(row.pack);
        if (pack === undefined) packs.set(row.pack, (pack = row.pack));
        // rows come in key order (id, pack): the first is the one find() gives
        if (!out.has(id)) out.set(id, { id, type: row.type === 1 ? 'tree' : 'data', pack, offset: row.offset, length: row.length, rawLength: row.rawLength });
      }
    }
    return out;
  }

  private readonly findStatements = new Map<number, Database.Statement<Buffer[]>>();

  private findStatement(size: number): Database.Statement<Buffer[]> {
    let st = this.findStatements.get(size);
    if (!st) this.findStatements.set(size, (st = this.db.prepare(`SELECT id, pack, type, offset, length, raw_length AS rawLength FROM blobs WHERE id IN (${new Array(size).fill('?').join(',')})`)));
    return st;
  }

  find(id: BlobId): BlobLocation | undefined {
    const row = this.stmt.find.get(Buffer.from(id, 'hex')) as { pack: string; type: number; offset: number; length: number; rawLength: number } | undefined;
    if (!row) return undefined;
    return { id, type: row.type === 1 ? 'tree' : 'data', pack: row.pack, offset: row.offset, length: row.length, rawLength: row.rawLength };
  }

  segmentNames(): Set<string> {
    return new Set((this.db.prepare('SELECT name FROM segments').all() as { name: string }[]).map((r) => r.name));
  }

  /**
   * Adds a segment. The segments it supersedes stop counting at once (their packs may be
   * deleted next), and are remembered as loaded so a later sync does not bring them back.
   */
  addSegment(name: string, seg: IndexSegment): void {
    this.write(this.db.transaction(() => {
      // a superseded segment's blobs may be gone, and a remembered tree with them
      if (seg.supersedes.length > 0) this.db.exec('DELETE FROM dir_trees');
      for (const old of seg.supersedes) {
        this.db.prepare('DELETE FROM blobs WHERE pack IN (SELECT id FROM packs WHERE segment = ?)').run(old);
        this.db.prepare('DELETE FROM packs WHERE segment = ?').run(old);
        this.stmt.insertSegment.run(old);
      }
      this.stmt.insertSegment.run(name);
      for (const p of seg.packs) {
        this.stmt.insertPack.run(p.id, p.size, name);
        for (const b of p.blobs) this.stmt.insertBlob.run(Buffer.from(b.id, 'hex'), p.id, b.type === 'tree' ? 1 : 0, b.offset, b.length, b.rawLength);
      }
    }));
  }

  /** Segments that contribute packs (superseded ones are recorded empty). */
  segmentsWithPacks(): Set<string> {
    return new Set((this.db.prepare('SELECT DISTINCT segment FROM packs').all() as { segment: string }[]).map((r) => r.segment));
  }

  clearBlobs(): void {
    this.write(() => this.db.exec('DELETE FROM blobs; DELETE FROM packs; DELETE FROM segments; DELETE FROM dir_trees;'));
  }

  packs(): { id: string; size: number }[] {
    return this.db.prepare('SELECT id, size FROM packs').all() as { id: string; size: number }[];
  }

  counts(): { blobs: number; packs: number; packBytes: number; rawBytes: number; treeBlobs: number } {
    const b = this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(raw_length),0) AS raw, COALESCE(SUM(type),0) AS trees FROM (SELECT id, MIN(raw_length) AS raw_length, MIN(type) AS type FROM blobs GROUP BY id)').get() as { n: number; raw: number; trees: number };
    const p = this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(size),0) AS bytes FROM packs').get() as { n: number; bytes: number };
    return { blobs: b.n, packs: p.n, packBytes: p.bytes, rawBytes: b.raw, treeBlobs: b.trees };
  }

  snapshotIds(): Set<string> {
    return new Set((this.db.prepare('SELECT id FROM snapshots').all() as { id: string }[]).map((r) => r.id));
  }

  putSnapshot(id: string, snap: Snapshot): void {
    this.write(() => this.db.prepare('INSERT OR REPLACE INTO snapshots (id, time, body) VALUES (?, ?, ?)').run(id, snap.time, JSON.stringify(snap)));
  }

  removeSnapshot(id: string): void {
    this.write(() => this.db.prepare('DELETE FROM snapshots WHERE id = ?').run(id));
  }

  /** Snapshots oldest first. */
  snapshots(): { id: string; snapshot: Snapshot }[] {
    const rows = this.db.prepare('SELECT id, body FROM snapshots ORDER BY time, id').all() as { id: string; body: string }[];
    return rows.map((r) => ({ id: r.id, snapshot: JSON.parse(r.body) as Snapshot }));
  }

  /**
   * The tree a backup saved for a directory key, if it is indexed. Trees are forgotten whenever
   * blobs may have left the index (clearBlobs, a superseding segment), so a tree found here has
   * every blob it refers to indexed, as it had when its backup ended (recordDirTrees runs after
   * the flush).
   */
  dirTree(key: Buffer): DirTree | undefined {
    const row = this.stmt.dirTree.get(key) as { tree: Buffer; files: number; bytes: number; dirs: number; used: number } | undefined;
    return row && { tree: row.tree.toString('hex'), files: row.files, bytes: row.bytes, dirs: row.dirs, used: row.used };
  }

  /**
   * Remembers the directory trees of a backup whose blobs are all indexed, marks those it used
   * again, and forgets those unused for DIR_TREE_TTL_S.
   */
  recordDirTrees(saved: Iterable<{ key: Buffer; tree: DirTree }>, used: readonly Buffer[], now: number): void {
    this.write(this.db.transaction(() => {
      const put = this.db.prepare('INSERT OR REPLACE INTO dir_trees (key, tree, files, bytes, dirs, used) VALUES (?, ?, ?, ?, ?, ?)');
      for (const { key, tree } of saved) put.run(key, Buffer.from(tree.tree, 'hex'), tree.files, tree.bytes, tree.dirs, now);
      const touch = this.db.prepare('UPDATE dir_trees SET used = ? WHERE key = ?');
      for (const key of used) touch.run(now, key);
      this.db.prepare('DELETE FROM dir_trees WHERE used < ?').run(now - DIR_TREE_TTL_S);
    }));
  }

  /** Whether a tree's `used` is old enough to be refreshed (see DIR_TREE_TOUCH_S). */
  static dirTreeStale(tree: DirTree, now: number): boolean {
    return now - tree.used >= DIR_TREE_TOUCH_S;
  }

  getMeta(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.write(() => this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, value));
  }
}
