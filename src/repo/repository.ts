import * as os from 'node:os';
import * as path from 'node:path';
import pLimit from 'p-limit';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Backend, ObjectInfo } from '../storage/Backend.js';
import { CONFIG_NAME } from '../storage/Backend.js';
import { blake3, prepareHashKey, type Blake3 } from './hash.js';
import { makeSealer, type Cipher, type Sealer } from './sealer.js';
import { newMasterKey, type MasterKey } from './masterKey.js';
import { createKeyFile, decodeKeyFile, encodeKeyFile, unlockKeyFile } from './keyFile.js';
import { decodeRepoConfig, encodeRepoConfig, newRepoConfig, type RepoConfig } from './config.js';
import { LocalIndex, sqlite, type BlobLocation } from './localIndex.js';
import { PackWriter, type WrittenPack } from './packWriter.js';
import { writeBlobs, type BlobWrite, type WrittenBlobs } from './blobWrites.js';
import { decodeIndexSegment, encodeIndexSegment, type IndexSegment } from './indexSegment.js';
import { decodePackHeader, headerReadGuess, type PackEntry } from './pack.js';
import { decodeSnapshot, encodeSnapshot, type Snapshot } from './snapshot.js';
import { decodeBlobPlain, encodeBlobParts, zstd } from './blobCodec.js';
import { openObject, sealObject } from './objectCodec.js';
import { acquireLock, type HeldLock } from './repoLock.js';
import type { LockTiming } from './lock.js';
import { BlobWorkers } from './blobWorkers.js';
import type { AddedBlobs, NewBlob } from './blobWorkerProtocol.js';
import type { StagedPack } from './packFile.js';
import type { BlobId, BlobType } from './blobId.js';

export interface OpenOptions {
  /** undefined: the repository must be unencrypted */
  password?: string;
  /** base cache directory; the index lives in <cacheDir>/<repository id> */
  cacheDir?: string;
  /** lock refresh and staleness times (default 5 and 30 minutes); shorter only in tests */
  lockTiming?: LockTiming;
  /**
   * Called while the key is derived, once the store is listed: what a command can start on
   * then, it does not make wait for the key (a first backup starts its workers).
   */
  whileUnlocking?: (listed: { snapshots: number }) => void;
}

export interface InitOptions extends OpenOptions {
  cipher?: Cipher;
  /** smaller chunks or packs, for tests */
  configOverrides?: Partial<Pick<RepoConfig, 'chunker' | 'dbChunker' | 'packSize'>>;
}

/** Why a lock cannot be written on a store that can still be read: full, read-only, not ours. */
const UNWRITABLE_ERRNO = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM']);

/** Packs per index segment written while a backup runs, so a crash loses little. */
const PACKS_PER_SEGMENT = 16;

export function defaultCacheDir(): string {
  if (process.env.OCVAULT_CACHE_DIR) return process.env.OCVAULT_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'ocvault');
}

/**
 * An open repository: keys, the local index, blob saving and loading, snapshots and locks.
 * Objects are written packs first, then index segments, then snapshots (DESIGN.md).
 */
export class Repository {
  /** trees go to packs of their own, so reading the trees of a snapshot reads few packs */
  private readonly packWriters: Record<BlobType, PackWriter>;
  /** whole tree packs recently read, by pack id */
  private readonly treePacks = new Map<string, Promise<Buffer>>();
  private written: WrittenPack[] = [];
  /** blobs stored (or being stored) in this session that the index does not list yet */
  private readonly pendingIds = new Set<string>();
  /**
   * Tree blobs loaded (and verified) in this process: they are stored. An unchanged backup
   * saves every directory's tree again and finds it stored; asking SQLite for each cost
   * ~10 us a directory. Forgotten whenever the index's blob list is (clearIndexedBlobs).
   */
  private readonly loadedTrees = new Set<string>();
  private segmentWrites: Promise<void> = Promise.resolve();
  private workers: BlobWorkers | undefined;
  private lock: HeldLock | undefined;
  /** set by open() */
  private lockTiming: LockTiming | undefined;

  private constructor(
    readonly backend: Backend,
    readonly config: RepoConfig,
    readonly master: MasterKey,
    readonly keyName: string,
    readonly hasher: Blake3,
    readonly sealer: Sealer,
    readonly index: LocalIndex,
    readonly cacheDir: string,
  ) {
    this.packWriters = { data: this.newPackWriter(), tree: this.newPackWriter() };
  }

  private newPackWriter(): PackWriter {
    return new PackWriter(this.backend, this.sealer, this.hasher, this.config.packSize, (p) => this.onPackWritten(p));
  }

  static async init(backend: Backend, opts: InitOptions): Promise<Repository> {
    const cipher: Cipher = opts.password === undefined ? 'none' : (opts.cipher ?? 'aes-256-gcm');
    if (cipher !== 'none' && opts.password === undefined) throw new OcvaultError('NoPassword', 'a password is needed to create an encrypted repository');
    await backend.create();
    const config = { ...newRepoConfig(cipher), ...opts.configOverrides };
    const master = newMasterKey();
    const hasher = await blake3();
    const keyBytes = encodeKeyFile(await createKeyFile(master, cipher === 'none' ? undefined : opts.password));
    await backend.save('keys', hasher.plain(keyBytes).toString('hex'), keyBytes);
    await backend.save('config', CONFIG_NAME, encodeRepoConfig(config));
    return Repository.open(backend, opts);
  }

  static async open(backend: Backend, opts: OpenOptions): Promise<Repository> {
    let configBytes: Buffer;
    try {
      configBytes = await backend.load('config', CONFIG_NAME);
    } catch (e) {
      if (e instanceof OcvaultError && e.code === 'ObjectNotFound') {
        throw new OcvaultError('RepositoryNotFound', `no repository at ${backend.location} (run 'ocvault init' first)`, { location: backend.location });
      }
      throw e;
    }
    const config = decodeRepoConfig(configBytes);
    const hasher = await blake3();
    // Listings need no key: they run while scrypt derives it, when the main thread is idle.
    const listings = Promise.all([backend.list('index'), backend.list('snapshots')]);
    listings.catch(() => undefined); // awaited below, unless the unlock fails first
    // what a command starts here only starts sooner: should it fail, the command starts it later
    if (opts.whileUnlocking) listings.then(([, snapshots]) => opts.whileUnlocking?.({ snapshots: snapshots.length })).catch(() => undefined);
    // the native modules every command needs next load while the key is derived (~30 ms)
    const { master, keyName } = await unlockMaster(backend, config, opts.password, hasher, loadNativeModules);
    await prepareHashKey(master.id);
    const sealer = makeSealer(config.cipher, master.encryption);
    const cacheDir = path.join(opts.cacheDir ?? defaultCacheDir(), config.id);
    let index: LocalIndex;
    try {
      index = LocalIndex.open(cacheDir);
    } catch (e) {
      if (e instanceof OcvaultError) throw e;
      throw new OcvaultError('StorageError', `cannot open the local index in ${cacheDir}: ${e instanceof Error ? e.message : String(e)}`, { cacheDir });
    }
    const repo = new Repository(backend, config, master, keyName, hasher, sealer, index, cacheDir);
    repo.lockTiming = opts.lockTiming;
    try {
      const [indexSegments, snapshots] = await listings;
      await repo.syncIndex(indexSegments);
      await repo.syncSnapshots(snapshots);
    } catch (e) {
      index.close();
      throw e;
    }
    return repo;
  }

  // ---------- keys ----------

  async addKey(password: string): Promise<string> {
    if (this.config.cipher === 'none') throw new OcvaultError('Usage', 'this repository is not encrypted; it has no passwords');
    const bytes = encodeKeyFile(await createKeyFile(this.master, password));
    const name = this.hasher.plain(bytes).toString('hex');
    await this.backend.save('keys', name, bytes);
    return name;
  }

  async removeKey(name: string): Promise<void> {
    await this.backend.remove('keys', name);
  }

  // ---------- locks ----------

  /**
   * Takes a shared lock, unless this process already holds a lock. The index and the snapshot
   * list are synced again once the lock is held: what open() read may predate a prune that ran
   * in between, and a backup deduplicating against it would reference deleted packs.
   */
  async lockShared(): Promise<void> {
    if (this.lock) return;
    this.lock = await acquireLock(this.backend, this.sealer, this.hasher, false, this.lockTiming);
    await this.syncIndex();
    await this.syncSnapshots();
  }

  /**
   * For operations that only read (restore): a shared lock when one can be written. When the
   * repository's disk is full or read-only, that is exactly when a restore is needed, so it
   * goes on without one and says so; it verifies every blob it reads, so a prune running at
   * the same time can make it fail, never restore wrong data.
   */
  async lockForReading(onWarning?: (message: string) => void): Promise<void> {
    try {
      await this.lockShared();
    } catch (e) {
      const errno = e instanceof OcvaultError && e.code === 'StorageError' ? e.data.errno : undefined;
      if (typeof errno !== 'string' || !UNWRITABLE_ERRNO.has(errno)) throw e;
      onWarning?.(`${(e as Error).message}; going on without a lock`);
    }
  }

  /** Takes the exclusive lock (upgrading a shared one this process holds), then syncs as lockShared. */
  async lockExclusive(): Promise<void> {
    if (this.lock?.exclusive) return;
    const shared = this.lock;
    this.lock = undefined;
    await shared?.release();
    this.lock = await acquireLock(this.backend, this.sealer, this.hasher, true, this.lockTiming);
    await this.syncIndex();
    await this.syncSnapshots();
  }

  checkLock(): void {
    this.lock?.check();
  }

  // ---------- the local index ----------

  /** Brings the SQLite index up to date with index/ in the repository (`listed`: that folder as just listed, if the caller has it). */
  async syncIndex(listed?: readonly ObjectInfo[], attempt = 0): Promise<void> {
    const remote = new Set((listed ?? (await this.backend.list('index'))).map((o) => o.name));
    const loaded = this.index.segmentNames();
    const owning = this.index.segmentsWithPacks();
    let rebuild = false;
    for (const name of loaded) if (!remote.has(name) && owning.has(name)) rebuild = true;
    if (rebuild) this.clearIndexedBlobs();
    const have = rebuild ? new Set<string>() : loaded;
    const todo = [...remote].filter((n) => !have.has(n));
    const limit = pLimit(8);
    // A segment listed and gone before it was read was superseded by a prune running now
    // (it writes its new segments before deleting the old): list again rather than fail.
    let vanished = false;
    const loads = await Promise.all(
      todo.map((name) =>
        limit(async () => {
          try {
            return { name, seg: await this.loadIndexSegment(name) };
          } catch (e) {
            if (!(e instanceof OcvaultError && e.code === 'ObjectNotFound') || attempt >= 3) throw e;
            vanished = true;
            return undefined;
          }
        }),
      ),
    );
    if (vanished) return this.syncIndex(undefined, attempt + 1);
    const segments = loads.filter((l): l is { name: string; seg: IndexSegment } => l !== undefined);
    const superseded = new Set(segments.flatMap((s) => s.seg.supersedes));
    if ([...superseded].some((n) => have.has(n) && owning.has(n))) {
      this.clearIndexedBlobs();
      return this.syncIndex();
    }
    for (const { name, seg } of segments) {
      this.index.addSegment(name, superseded.has(name) ? { ...seg, packs: [] } : seg);
    }
  }

  async loadIndexSegment(name: string): Promise<IndexSegment> {
    const bytes = await this.backend.load('index', name);
    this.verifyName('index', name, bytes);
    return decodeIndexSegment(openObject(this.sealer, bytes, `index segment ${name}`), name);
  }

  /** Stores an index segment; returns its name. */
  async saveIndexSegment(seg: IndexSegment): Promise<string> {
    const bytes = sealObject(this.sealer, encodeIndexSegment(seg), this.config.compression.level);
    const name = this.hasher.plain(bytes).toString('hex');
    await this.backend.save('index', name, bytes);
    this.index.addSegment(name, seg);
    return name;
  }

  /** Reads a pack's header from its tail, reading more when the first guess was short. */
  async readPackHeader(name: string, size: number): Promise<PackEntry[]> {
    let want = Math.min(size, headerReadGuess());
    for (;;) {
      const tail = await this.backend.load('data', name, { offset: size - want, length: want });
      const r = decodePackHeader(tail, size, this.sealer, name);
      if (Array.isArray(r)) return r;
      if (r.need <= want) throw new OcvaultError('CorruptObject', `pack ${name} has a malformed header`, { pack: name });
      want = r.need;
    }
  }

  /**
   * Indexes packs that are stored but listed in no index segment — what a backup that was
   * killed had already uploaded — so the next backup reuses them instead of uploading again.
   * Returns how many packs were adopted. A pack whose header cannot be read is left alone.
   */
  async adoptUnindexedPacks(): Promise<number> {
    const known = new Set(this.index.packs().map((p) => p.id));
    const orphans = (await this.backend.list('data')).filter((p) => !known.has(p.name));
    if (orphans.length === 0) return 0;
    const limit = pLimit(8);
    const found = await Promise.all(
      orphans.map((p) =>
        limit(async () => {
          try {
            return { id: p.name, size: p.size, blobs: await this.readPackHeader(p.name, p.size) };
          } catch (e) {
            if (e instanceof OcvaultError) return undefined;
            throw e;
          }
        }),
      ),
    );
    const packs = found.filter((p): p is NonNullable<typeof p> => p !== undefined);
    if (packs.length) await this.saveIndexSegment({ version: 1, supersedes: [], packs });
    return packs.length;
  }

  private verifyName(kind: string, name: string, bytes: Buffer): void {
    if (this.hasher.plain(bytes).toString('hex') !== name) {
      throw new OcvaultError('CorruptObject', `${kind}/${name} is damaged (its content does not match its name)`, { object: `${kind}/${name}` });
    }
  }

  // ---------- saving blobs ----------

  private onPackWritten(p: WrittenPack): void {
    this.written.push(p);
    if (this.written.length >= PACKS_PER_SEGMENT) this.queueSegment();
  }

  private queueSegment(): void {
    const packs = this.written;
    this.written = [];
    if (packs.length === 0) return;
    this.segmentWrites = this.segmentWrites.then(async () => {
      this.checkLock();
      await this.saveIndexSegment({ version: 1, supersedes: [], packs });
      for (const p of packs) for (const b of p.blobs) this.pendingIds.delete(b.id);
    });
    // A failed write surfaces where flush() awaits it; until then it must not count as an
    // unhandled rejection, which would kill the process mid-backup with a stack trace.
    this.segmentWrites.catch(() => undefined);
  }

  /** Is the blob stored already, or on its way in this session? */
  hasBlob(id: BlobId): boolean {
    return this.pendingIds.has(id) || this.loadedTrees.has(id) || this.index.has(id);
  }

  /** Adds blobs sealed by a worker, skipping any stored already. Returns what was added. */
  async addSealed(type: BlobType, blobs: NewBlob[]): Promise<AddedBlobs> {
    const added: AddedBlobs = { blobs: 0, bytes: 0 };
    for (const b of blobs) {
      if (this.hasBlob(b.id)) continue;
      this.pendingIds.add(b.id);
      await this.packWriters[type].add(b.id, type, b.sealed, b.rawLength);
      added.blobs++;
      added.bytes += b.length;
    }
    return added;
  }

  /** Makes a pack a blob worker wrote into the store's staging folder an object, and indexes it. */
  private async adoptPack(p: StagedPack): Promise<void> {
    await this.backend.adopt!(p.file, 'data', p.id);
    this.onPackWritten({ id: p.id, size: p.size, blobs: p.blobs });
  }

  /** Saves one blob from the main thread (trees, small objects). Returns its id and bytes added. */
  async saveBlob(type: BlobType, plain: Uint8Array): Promise<{ id: BlobId; added: number }> {
    const id = this.hasher.keyed(this.master.id, plain).toString('hex');
    if (this.hasBlob(id)) return { id, added: 0 };
    this.pendingIds.add(id);
    const sealed = this.sealer.sealParts(encodeBlobParts(plain, this.config.compression.level));
    await this.packWriters[type].add(id, type, sealed, plain.length);
    return { id, added: sealed.reduce((n, p) => n + p.length, 0) };
  }

  /** Makes everything saved so far durable: packs, then their index segment. */
  async flush(): Promise<void> {
    await Promise.all([this.workers?.flushPacks(), this.packWriters.data.flush(), this.packWriters.tree.flush()]);
    this.queueSegment();
    await this.segmentWrites;
  }

  // ---------- loading blobs ----------

  locate(id: BlobId): BlobLocation {
    const loc = this.index.find(id);
    if (!loc) throw new OcvaultError('BlobNotFound', `blob ${id.slice(0, 12)} is not in the index (run 'ocvault repair index' or 'ocvault check')`, { blob: id });
    return loc;
  }

  /** Where many blobs are (one lookup per batch, not per blob); throws for the first one missing. */
  locateMany(ids: Iterable<BlobId>): Map<BlobId, BlobLocation> {
    const wanted = new Set(ids);
    const found = this.index.findMany(wanted);
    if (found.size < wanted.size) for (const id of wanted) if (!found.has(id)) this.locate(id);
    return found;
  }

  /** Where those of `ids` that the index lists are (one lookup per batch); the others are left out. */
  locateListed(ids: Iterable<BlobId>): Map<BlobId, BlobLocation> {
    return this.index.findMany(ids);
  }

  async loadSealed(loc: BlobLocation): Promise<Buffer> {
    try {
      if (loc.type === 'tree') {
        const pack = await this.loadTreePack(loc.pack);
        if (loc.offset + loc.length > pack.length) throw new OcvaultError('CorruptObject', `pack ${loc.pack} is shorter than its index says`, { pack: loc.pack });
        return pack.subarray(loc.offset, loc.offset + loc.length);
      }
      return await this.backend.load('data', loc.pack, { offset: loc.offset, length: loc.length });
    } catch (e) {
      if (e instanceof OcvaultError && e.code === 'ObjectNotFound') {
        throw new OcvaultError('CorruptObject', `pack ${loc.pack} is missing (it holds blob ${loc.id.slice(0, 12)})`, { pack: loc.pack, blob: loc.id });
      }
      throw e;
    }
  }

  /** Lets go of the tree packs kept whole: a restore has walked its trees before it writes. */
  forgetTreePacks(): void {
    this.treePacks.clear();
  }

  /** Tree packs are small and read over and over while walking a snapshot: keep a few whole. */
  private loadTreePack(pack: string): Promise<Buffer> {
    let p = this.treePacks.get(pack);
    if (!p) {
      if (this.treePacks.size >= 8) this.treePacks.delete(this.treePacks.keys().next().value!);
      p = this.backend.load('data', pack);
      p.catch(() => this.treePacks.delete(pack));
      this.treePacks.set(pack, p);
    }
    return p;
  }

  /**
   * Loads, decrypts, decompresses and verifies a blob (in a worker when workers run); `where`
   * is its location when the caller looked it up already (a batch of them at once).
   */
  async loadBlob(id: BlobId, where?: BlobLocation): Promise<Buffer> {
    const loc = where ?? this.locate(id);
    const sealed = await this.loadSealed(loc);
    const plain = await this.openBlobAnywhere(id, sealed, `blob ${id.slice(0, 12)} in pack ${loc.pack}`);
    if (loc.type === 'tree') this.loadedTrees.add(id);
    return plain;
  }

  /** Opens a sealed blob in a worker when workers run and the blob is large enough to pay. */
  async openBlobAnywhere(id: BlobId, sealed: Buffer, what: string): Promise<Buffer> {
    if (this.workers && sealed.length > 64 * 1024) return this.workers.openBlob(id, sealed, what);
    return this.openBlob(id, sealed, what);
  }

  /**
   * Opens the blobs lying in `bytes` (a piece of `pack`) and writes each to every place that
   * uses it, in the workers when they run; settles once nothing reads `bytes` any more.
   */
  async writeBlobs(pack: string, bytes: Uint8Array, blobs: BlobWrite[]): Promise<WrittenBlobs> {
    if (this.workers) return this.workers.writeBlobs(pack, bytes, blobs);
    return writeBlobs(pack, bytes, blobs, (id, sealed, what) => this.openBlob(id, Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength), what));
  }

  openBlob(id: BlobId, sealed: Buffer, what: string): Buffer {
    const plain = decodeBlobPlain(this.sealer.open(sealed, what), what);
    if (this.hasher.keyed(this.master.id, plain).toString('hex') !== id) {
      throw new OcvaultError('CorruptObject', `${what} does not match its id (content damaged)`, { blob: id });
    }
    return plain;
  }

  // ---------- workers ----------

  /**
   * Starts the blob worker pool (chunk, hash, compress, seal; open). Where the store has a
   * staging folder, workers write new blobs into packs of their own there.
   */
  startWorkers(count?: number): BlobWorkers {
    const staging = this.backend.stagingDir !== undefined && this.backend.adopt !== undefined ? this.backend.stagingDir : undefined;
    this.workers ??= new BlobWorkers(
      {
        cipher: this.config.cipher,
        encryptionKey: this.master.encryption,
        idKey: this.master.id,
        chunkerKey: this.master.chunker,
        fileChunks: this.config.chunker,
        dbChunks: this.config.dbChunker,
        compressionLevel: this.config.compression.level,
        dbCompressionLevel: this.config.compression.databaseLevel ?? this.config.compression.level,
        indexFile: this.index.file,
        ...(staging ? { packs: { dir: staging, size: this.config.packSize } } : {}),
      },
      (blobs) => this.addSealed('data', blobs),
      (pack) => this.adoptPack(pack),
      count,
    );
    return this.workers;
  }

  // ---------- snapshots ----------

  /** Brings the cached snapshot list up to date with snapshots/ (`listed`: that folder as just listed, if the caller has it). */
  async syncSnapshots(listed?: readonly ObjectInfo[]): Promise<void> {
    const remote = new Set((listed ?? (await this.backend.list('snapshots'))).map((o) => o.name));
    const cached = this.index.snapshotIds();
    for (const id of cached) if (!remote.has(id)) this.index.removeSnapshot(id);
    const limit = pLimit(8);
    await Promise.all(
      [...remote]
        .filter((id) => !cached.has(id))
        .map((id) =>
          limit(async () => {
            try {
              this.index.putSnapshot(id, await this.loadSnapshot(id));
            } catch (e) {
              if (e instanceof OcvaultError && e.code === 'ObjectNotFound') return;
              throw e;
            }
          }),
        ),
    );
  }

  async loadSnapshot(id: string): Promise<Snapshot> {
    const bytes = await this.backend.load('snapshots', id);
    this.verifyName('snapshots', id, bytes);
    return decodeSnapshot(openObject(this.sealer, bytes, `snapshot ${id}`), id);
  }

  async saveSnapshot(s: Snapshot): Promise<string> {
    this.checkLock();
    const bytes = sealObject(this.sealer, encodeSnapshot(s), this.config.compression.level);
    const id = this.hasher.plain(bytes).toString('hex');
    await this.backend.save('snapshots', id, bytes);
    this.index.putSnapshot(id, s);
    return id;
  }

  /** Snapshots, oldest first. */
  snapshots(): { id: string; snapshot: Snapshot }[] {
    return this.index.snapshots();
  }

  /** 'latest', a full id or a unique prefix. */
  resolveSnapshot(ref: string): { id: string; snapshot: Snapshot } {
    const all = this.snapshots();
    if (ref === 'latest') {
      const last = all[all.length - 1];
      if (!last) throw new OcvaultError('SnapshotNotFound', 'the repository has no snapshots yet');
      return last;
    }
    const matches = all.filter((s) => s.id.startsWith(ref.toLowerCase()));
    if (matches.length === 0 || ref.length === 0) throw new OcvaultError('SnapshotNotFound', `no snapshot ${ref}`, { snapshot: ref });
    if (matches.length > 1) throw new OcvaultError('AmbiguousSnapshot', `snapshot prefix ${ref} matches ${matches.length} snapshots; give more characters`, { snapshot: ref });
    return matches[0]!;
  }

  async close(): Promise<void> {
    await this.workers?.close();
    this.workers = undefined;
    await this.lock?.release().catch(() => undefined);
    this.lock = undefined;
    this.index.close();
    await this.backend.close();
  }

  // ---------- maintenance ----------

  /** Deletes a snapshot object (forget, repair): the data it referenced stays until a prune. */
  async removeSnapshot(id: string): Promise<void> {
    this.checkLock();
    await this.backend.remove('snapshots', id);
    this.index.removeSnapshot(id);
  }

  /** Rebuilds the local index from the index segments in the repository (after prune rewrote them). */
  async reloadIndex(): Promise<void> {
    // The workers' claim table says which blobs this run stored; after a prune some of those
    // may be gone, so a backup later in this process starts with a new pool.
    await this.workers?.close();
    this.workers = undefined;
    this.treePacks.clear();
    this.clearIndexedBlobs();
    await this.syncIndex();
  }

  /**
   * Empties the local index's list of blobs (its segments are read again, or rewritten by
   * prune and repair); the trees this process saw stored are forgotten with it.
   */
  clearIndexedBlobs(): void {
    this.loadedTrees.clear();
    this.index.clearBlobs();
  }
}

/** Loads the native modules that load at first use (SQLite, zstd), so that use does not wait. */
function loadNativeModules(): void {
  sqlite();
  zstd();
}

async function unlockMaster(backend: Backend, config: RepoConfig, password: string | undefined, hasher: Blake3, whileDeriving?: () => void): Promise<{ master: MasterKey; keyName: string }> {
  const keys = await backend.list('keys');
  if (keys.length === 0) throw new OcvaultError('CorruptObject', `repository ${backend.location} has no keys`);
  let wrong: OcvaultError | undefined;
  // A key file is named by the hash of its bytes: a damaged one is told apart from a wrong
  // password, and does not stop another key from opening the repository.
  let damaged: OcvaultError | undefined;
  for (const k of keys) {
    let file: ReturnType<typeof decodeKeyFile>;
    try {
      const bytes = await backend.load('keys', k.name);
      if (hasher.plain(bytes).toString('hex') !== k.name) throw new OcvaultError('CorruptObject', `key file keys/${k.name} is damaged (its content does not match its name)`, { object: `keys/${k.name}` });
      file = decodeKeyFile(bytes, k.name);
    } catch (e) {
      if (e instanceof OcvaultError && e.code === 'CorruptObject') {
        damaged ??= e;
        continue;
      }
      throw e;
    }
    if (config.cipher === 'none' || file.kdf === 'none') {
      if (file.kdf === 'none') return { master: await unlockKeyFile(file, undefined, k.name), keyName: k.name };
      continue;
    }
    try {
      return { master: await unlockKeyFile(file, password, k.name, whileDeriving), keyName: k.name };
    } catch (e) {
      if (e instanceof OcvaultError && (e.code === 'WrongPassword' || e.code === 'NoPassword')) {
        wrong = e;
        if (e.code === 'NoPassword') break;
        continue;
      }
      throw e;
    }
  }
  if (damaged && wrong?.code === 'WrongPassword') throw new OcvaultError('WrongPassword', `${wrong.message}; ${damaged.message}`, wrong.data);
  throw wrong ?? damaged ?? new OcvaultError('WrongPassword', 'wrong password (no key in the repository opens with it)');
}
