import { parentPort } from 'node:worker_threads';
import * as fs from 'node:fs';
import { blake3, prepareHashKey, type Blake3 } from './hash.js';
import { makeChunker, type Chunker } from './chunker.js';
import { makeSealer, type Sealer } from './sealer.js';
import { decodeBlobPlain, encodeBlobParts } from './blobCodec.js';
import { isCompressedFormat } from './compressedFormats.js';
import { LocalIndex } from './localIndex.js';
import { BlobWriteFailure, writeBlobs } from './blobWrites.js';
import { youngCollector } from './youngGc.js';
import { BlobClaims } from './blobClaims.js';
import { PackFileWriter } from './packFile.js';
import { pageOffsetOf, readSlack } from '../storage/copyDistance.js';
import { readAhead } from '../storage/readAhead.js';
import { ReadAheadPolicy } from './readAheadPolicy.js';
import type { AddedBlobs, ChunkedFile, FailedTask, FileStat, FileToChunk, FromWorker, NewBlob, ToWorker, WorkerInit } from './blobWorkerProtocol.js';

/**
 * A blob worker: chunks files and streams, hashes, compresses and seals the chunks that are
 * not stored yet — into packs of its own when the store is a local folder, else handing them
 * to the main thread — and opens blobs for restore.
 */
const port = parentPort!;
/**
 * What this worker works with: its keys, sizes and store, given by the first message (a thread
 * may be started before the key is derived: see prestartBlobWorkers).
 */
let init: WorkerInit;
const READ = 1024 * 1024;
/** Sealed bytes a task may have in flight before it waits for the main thread to take them. */
const CREDIT = 16 * 1024 * 1024;

let hasher: Blake3;
let sealer: Sealer;
let fileChunker: Chunker;
let dbChunker: Chunker;
let index: LocalIndex | undefined;
/** this worker's own packs (local stores only) */
let packFile: PackFileWriter | undefined;
let idKey: Buffer;
let claims: BlobClaims;
/** ids this worker sealed once the shared claim table was full */
const sealedHere = new Set<string>();

const acks = new Map<number, () => void>();

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

/**
 * False when the index held no blob as this worker started (a first backup): then every
 * lookup would miss, and they cost about 10 µs a chunk. Blobs stored during this run are in
 * the claim table instead.
 */
let indexUseful = true;

function indexed(id: string): boolean {
  if (!index) {
    try {
      index = LocalIndex.openReadonly(init.indexFile);
      indexUseful = index.hasAnyBlob();
    } catch {
      return false;
    }
  }
  return indexUseful && index.has(id);
}

/** Is this blob for this worker to store: not stored yet, and not taken on by another worker? */
function isNew(digest: Buffer, id: string): boolean {
  if (sealedHere.has(id) || indexed(id)) return false;
  const claim = claims.claim(digest);
  if (claim === 'taken') return false;
  if (claim === 'full') sealedHere.add(id);
  return true;
}

/** Chunks one byte sequence incrementally; used by both files and pushed streams. */
class ChunkStream {
  readonly content: string[] = [];
  readonly added: AddedBlobs = { blobs: 0, bytes: 0 };
  private pending: NewBlob[] = [];
  private pendingBytes = 0;
  private inFlight = 0;

  /** the stream is a file in a compressed format: its chunks are stored without a trial compression */
  private raw = false;

  /** `sniff`: a file, whose first bytes may name a compressed format (not database rows, which could begin with anything) */
  constructor(private readonly task: number, private readonly chunker: Chunker, private readonly level: number, private readonly sniff = false) {}

  /**
   * Cuts every chunk of buf[start,end) whose end is certain; returns where the unconsumed tail
   * begins. A boundary found inside the bytes at hand is final (the gear hash looks only
   * backwards), so more bytes are needed only when none was found below the maximum size.
   */
  cutAll(buf: Buffer, start: number, end: number, eof: boolean): number {
    const max = this.chunker.params.max;
    while (start < end) {
      const n = this.chunker.cut(buf, start, end);
      if (!eof && n === end - start && n < max) break;
      this.add(buf.subarray(start, start + n));
      start += n;
    }
    return start;
  }

  private add(chunk: Buffer): void {
    if (this.sniff && this.content.length === 0) this.raw = isCompressedFormat(chunk);
    const digest = hasher.keyed(idKey, chunk);
    const id = digest.toString('hex');
    this.content.push(id);
    if (!isNew(digest, id)) return;
    const parts = encodeBlobParts(chunk, this.level, this.raw);
    // this worker's own pack copies the sealed parts at once: they may be encrypted where they
    // lie (the chunk in the read buffer, the compressor's output), with no buffer made for them
    const inPlace = packFile !== undefined;
    const sealed = inPlace ? sealer.sealInPlace(parts) : sealer.sealParts(parts);
    const length = sealed.reduce((n, p) => n + p.length, 0);
    // what dies: a ciphertext of its own, or the compressor's output
    collectAfter(inPlace && parts[1] === chunk ? 0 : length);
    if (packFile) {
      this.added.blobs++;
      this.added.bytes += length;
      packFile.add(id, 'data', sealed, chunk.length);
      return;
    }
    this.pending.push({ id, sealed, length, rawLength: chunk.length });
    this.pendingBytes += length;
  }

  /** Sends what is sealed; waits for the main thread when too much is unacknowledged. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const blobs = this.pending;
    this.pending = [];
    this.inFlight += this.pendingBytes;
    this.pendingBytes = 0;
    // Only buffers that own their whole ArrayBuffer may be moved; small ones live in Node's
    // shared pool, and moving that would pull it from under every other small buffer.
    const transfer = blobs
      .flatMap((b) => b.sealed)
      .filter((p) => p.byteOffset === 0 && p.byteLength === p.buffer.byteLength && p.byteLength >= 4096)
      .map((p) => p.buffer as ArrayBuffer);
    // an ack is asked for only when this task will wait for it: most files never do, and an
    // ack per message was a main-thread postMessage per file for nothing
    const wantAck = this.inFlight > CREDIT;
    post({ task: this.task, kind: 'blobs', blobs, wantAck }, transfer);
    if (wantAck) {
      await new Promise<void>((resolve) => acks.set(this.task, resolve));
      this.inFlight = 0;
    }
  }

  get pendingSize(): number {
    return this.pendingBytes;
  }
}

function statOf(st: fs.BigIntStats): FileStat {
  return { size: Number(st.size), mtimeNs: st.mtimeNs.toString(), ctimeNs: st.ctimeNs.toString(), inode: Number(st.ino), mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) };
}

/**
 * Opened for reading without blocking (a FIFO put where a file was would block a plain open
 * for ever) nor following a link. Regular files ignore O_NONBLOCK; a file system that did not
 * (a read failing with EAGAIN) costs that file a warning, not the backup.
 */
const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/**
 * Files are chunked one after the other. A file waits while its pack writes catch up with it,
 * and starting the next file then only filled more buffers: up to 4 files at once, each with a
 * read buffer and sealed blobs, when the disk was what the backup waited for.
 */
let files: Promise<void> = Promise.resolve();

/** Whether to have the kernel read queued files ahead: only while reads wait for the device. */
const readAheadPolicy = new ReadAheadPolicy();

/** Read buffers are reused: allocating one per file costs more in GC than the reading. */
const spareBuffers: Buffer[] = [];

/** A file's name as the file system takes it (names that are not UTF-8 travel as latin1). */
function fileName(file: FileToChunk['path']): string | Buffer {
  return typeof file === 'string' ? file : Buffer.from(file.latin1, 'latin1');
}

/** `wasReadAhead`: the kernel was asked to read the file ahead (its read time then says nothing of the cache). */
async function chunkFile(task: number, file: FileToChunk['path'], wasReadAhead: boolean): Promise<ChunkedFile> {
  const fd = fs.openSync(fileName(file), READ_FLAGS);
  let buf: Buffer | undefined;
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    // the walk saw a regular file (its directory entry or lstat); what was opened may not be one
    if (!st.isFile()) throw Object.assign(new Error('not a regular file any more'), { code: 'ENOTREG' });
    const before = statOf(st);
    const stream = new ChunkStream(task, fileChunker, init.compressionLevel, true);
    const max = fileChunker.params.max;
    // Every file is read through a reused READ-sized buffer that grows only while no chunk
    // boundary has been found: a buffer per file would wait for the garbage collector, and the
    // worker's memory would grow by tens of MiB of dead buffers.
    buf = spareBuffers.pop() ?? Buffer.allocUnsafe(READ);
    // Unread bytes move to `home` (not 0) when the buffer is compacted or grown: the offset
    // that keeps the next read's copy out of the kernel's slow distances (copyDistance.ts).
    let page = pageOffsetOf(buf);
    const homeFor = (kept: number, at: number): number => (page === undefined ? 0 : readSlack(page + kept, at));
    let start = homeFor(0, 0);
    let end = start;
    let eof = false;
    let size = 0;
    let readMs = 0;
    while (!eof || start < end) {
      if (!eof) {
        const kept = end - start;
        let home = homeFor(kept, size);
        if (home + kept >= buf.length) {
          // no chunk boundary in a full buffer: a larger one (the chunker cuts at `max`, so
          // one of max + READ always has room)
          const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, max + READ));
          page = pageOffsetOf(bigger);
          home = homeFor(kept, size);
          buf.copy(bigger, home, start, end);
          buf = bigger;
        } else if (start !== home) {
          buf.copy(buf, home, start, end);
        }
        start = home;
        end = home + kept;
        const t0 = performance.now();
        const n = fs.readSync(fd, buf, end, buf.length - end, null);
        readMs += performance.now() - t0;
        if (n === 0) eof = true;
        end += n;
        size += n;
      }
      start = stream.cutAll(buf, start, end, eof);
      // the reused read buffer is free again, but pack writes may lag behind the device
      await packFile?.settle();
      // The sealed blobs own their memory, so the read buffer can be reused after a flush.
      if (stream.pendingSize >= 4 * 1024 * 1024 || eof) await stream.flush();
    }
    await stream.flush();
    readAheadPolicy.record(size, readMs, wasReadAhead);
    const after = fs.fstatSync(fd, { bigint: true });
    const changed = after.size !== st.size || after.mtimeNs !== st.mtimeNs;
    return { task, kind: 'chunked', content: stream.content, size, before, changed, added: stream.added };
  } finally {
    fs.closeSync(fd);
    if (buf && buf.length === READ && spareBuffers.length < 8) spareBuffers.push(buf);
  }
}

/** Pushed streams (database rows): bytes arrive in pieces from the main thread. */
interface PushedStream {
  stream: ChunkStream;
  buf: Buffer;
  start: number;
  end: number;
  size: number;
  /** pushes arrive while earlier ones still wait for the main thread: they run in order */
  chain: Promise<void>;
  failed: boolean;
}
const streams = new Map<number, PushedStream>();

/** Runs `step` after the stream's earlier steps; after a failure (reported once) nothing more runs. */
function inOrder(task: number, step: (s: PushedStream) => Promise<void>): Promise<void> {
  const s = streams.get(task);
  if (!s) return Promise.resolve();
  s.chain = s.chain.then(async () => {
    if (s.failed) return;
    try {
      await step(s);
    } catch (e) {
      s.failed = true;
      streams.delete(task);
      fail(task, e);
    }
  });
  return s.chain;
}

async function streamPush(s: PushedStream, task: number, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    if (s.end === s.buf.length) {
      s.buf.copy(s.buf, 0, s.start, s.end);
      s.end -= s.start;
      s.start = 0;
    }
    const n = Math.min(bytes.length - offset, s.buf.length - s.end);
    s.buf.set(bytes.subarray(offset, offset + n), s.end);
    s.end += n;
    s.size += n;
    offset += n;
    s.start = s.stream.cutAll(s.buf, s.start, s.end, false);
    await packFile?.settle();
  }
  await s.stream.flush();
  post({ task, kind: 'streamAck' });
}

async function streamEnd(s: PushedStream, task: number): Promise<void> {
  s.stream.cutAll(s.buf, s.start, s.end, true);
  await s.stream.flush();
  streams.delete(task);
  const st: FileStat = { size: s.size, mtimeNs: '0', ctimeNs: '0', inode: 0, mode: 0, uid: 0, gid: 0 };
  post({ task, kind: 'chunked', content: s.stream.content, size: s.size, before: st, changed: false, added: s.stream.added });
}

/** Opens a sealed blob and checks it against its id; throws CorruptObject when damaged. */
function openVerified(id: string, sealed: Uint8Array, what: string): Buffer {
  // decrypted where it lies: a piece of a pack read for this restore, or bytes moved here
  const plain = decodeBlobPlain(sealer.openInPlace(sealed, what), what);
  const actual = hasher.keyed(idKey, plain).toString('hex');
  if (actual !== id) throw Object.assign(new Error(`${what} does not match its id (content damaged)`), { code: 'CorruptObject' });
  return plain;
}

function openBlob(task: number, id: string, sealed: Uint8Array, what: string): void {
  const plain = openVerified(id, sealed, what);
  const owns = plain.byteOffset === 0 && plain.byteLength === plain.buffer.byteLength && plain.byteLength >= 4096;
  post({ task, kind: 'opened', plain }, owns ? [plain.buffer as ArrayBuffer] : []);
}

/** Restore: the plain bytes go straight to their files, never back through the main thread. */
async function writeBlobRun(task: number, msg: Extract<ToWorker, { kind: 'writeBlobs' }>): Promise<void> {
  try {
    post({ task, kind: 'wroteBlobs', written: await writeBlobs(msg.pack, msg.bytes, msg.blobs, openVerified, collectAfter) });
  } catch (e) {
    if (!(e instanceof BlobWriteFailure)) throw e;
    fail(task, e.reason, { blob: e.blob, target: e.target });
  }
}

/**
 * A worker's heap is tiny while the buffers of the blobs it seals or opens (compressor and
 * cipher output) die by the MiB: collected every 2 MiB. Every 8 MiB took restore's peak RSS
 * from 316 to 263 MiB at the same CPU; 2 MiB took the bench backup's from 167 to 154 MiB
 * (3 runs each) for about 750 more scavenges of ~0.1-0.3 ms (a few % of the workers' CPU).
 */
const collectAfter = youngCollector(2 * 1024 * 1024);

function failure(task: number, e: unknown, where?: { blob: number; target?: number }): FailedTask {
  const err = e as { message?: string; code?: string };
  const code = typeof err.code === 'string' ? err.code : undefined;
  const isErrno = code !== undefined && /^E[A-Z]+$/.test(code);
  return { task, kind: 'failed', error: { message: err.message ?? String(e), code: isErrno ? undefined : code, errno: isErrno ? code : undefined }, ...where };
}

function fail(task: number, e: unknown, where?: { blob: number; target?: number }): void {
  post(failure(task, e, where));
}

/**
 * Chunks files one after the other and answers for all of them at once (a message each way
 * per file was a tenth of a first backup's CPU: see FILES_PER_MESSAGE in blobWorkers.ts).
 */
async function chunkFiles(files: readonly FileToChunk[], ahead: readonly boolean[]): Promise<void> {
  const answers: (ChunkedFile | FailedTask)[] = [];
  for (const [i, f] of files.entries()) {
    try {
      answers.push(await chunkFile(f.task, f.path, ahead[i] ?? false));
    } catch (e) {
      answers.push(failure(f.task, e));
    }
  }
  post({ task: 0, kind: 'answers', answers });
}

async function setUp(): Promise<void> {
  idKey = Buffer.from(init.idKey);
  claims = new BlobClaims(init.claims);
  hasher = await blake3();
  await prepareHashKey(idKey);
  sealer = makeSealer(init.cipher, Buffer.from(init.encryptionKey));
  fileChunker = makeChunker(init.chunkerKey, init.fileChunks);
  dbChunker = makeChunker(init.chunkerKey, init.dbChunks);
  if (init.packs) packFile = new PackFileWriter(init.packs.dir, sealer, await hasher.plainHasher(), init.packs.size, (pack) => post({ task: 0, kind: 'pack', pack }));
}

/** Set up once `init` is known; every task waits for it. */
let ready: Promise<void> | undefined;

/** Finishes this worker's open pack, so every blob it stored so far can be indexed. */
async function flushPacks(task: number): Promise<void> {
  await packFile?.finish();
  post({ task, kind: 'packsFlushed' });
}

port.on('message', (msg: ToWorker) => {
  if (msg.kind === 'init') {
    init = msg.init;
    ready = setUp();
    return;
  }
  if (msg.kind === 'ack') {
    const resolve = acks.get(msg.task);
    acks.delete(msg.task);
    resolve?.();
    return;
  }
  // the pool sends 'init' before any task
  void ready!
    .then(async () => {
      switch (msg.kind) {
        case 'chunkFiles': {
          // on a cold cache the device reads the queued files while this worker works on the
          // files before them (a read waited for the disk half the worker's time)
          const ahead = readAheadPolicy.choose(msg.files.length);
          readAhead(msg.files.filter((_, i) => ahead[i]).map((f) => fileName(f.path)));
          const run = files.then(() => chunkFiles(msg.files, ahead));
          files = run.catch(() => undefined);
          return run;
        }
        case 'streamStart': {
          const chunker = msg.chunks === 'db' ? dbChunker : fileChunker;
          streams.set(msg.task, { stream: new ChunkStream(msg.task, chunker, msg.chunks === 'db' ? init.dbCompressionLevel : init.compressionLevel), buf: Buffer.allocUnsafe(chunker.params.max * 2), start: 0, end: 0, size: 0, chain: Promise.resolve(), failed: false });
          post({ task: msg.task, kind: 'streamAck' });
          return;
        }
        case 'streamPush':
          return inOrder(msg.task, (s) => streamPush(s, msg.task, msg.bytes));
        case 'streamEnd':
          return inOrder(msg.task, (s) => streamEnd(s, msg.task));
        case 'openBlob':
          return openBlob(msg.task, msg.id, msg.sealed, msg.what);
        case 'writeBlobs':
          return writeBlobRun(msg.task, msg);
        case 'flushPacks':
          return flushPacks(msg.task);
        case 'discardPacks':
          await packFile?.discard();
          return post({ task: msg.task, kind: 'packsFlushed' });
      }
    })
    .catch((e: unknown) => fail(msg.task, e));
});
