import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { OcvaultError, type ErrorCode } from '../errors/OcvaultError.js';
import { holdHeapGrowth, youngCollector } from './youngGc.js';
import { BlobClaims } from './blobClaims.js';
import type { StagedPack } from './packFile.js';
import { BlobWriteFailure, type BlobWrite, type WrittenBlobs } from './blobWrites.js';
import type { AddedBlobs, FileStat, FileToChunk, FromWorker, NewBlob, ToWorker, WorkerInit } from './blobWorkerProtocol.js';

export interface ChunkedContent {
  content: string[];
  size: number;
  before: FileStat;
  /** the file's size or mtime moved while it was read */
  changed: boolean;
  /** new blobs this task stored */
  added: AddedBlobs;
}

/**
 * Stores new sealed blobs that workers hand over (stores without a staging folder); the
 * worker waits for it before sending more. Resolves with what was actually added.
 */
export type BlobSink = (blobs: NewBlob[]) => Promise<AddedBlobs>;

/** Adopts and indexes a finished pack a worker wrote into the store's staging folder. */
export type PackSink = (pack: StagedPack) => Promise<void>;

export type BlobWorkersInit = Omit<WorkerInit, 'claims'>;

/** Workers a pool starts unless told otherwise: one per core, at most 8. */
export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(availableParallelism(), 8));
}

/** A blob worker thread, loading its modules; it waits for an 'init' message before any task. */
function workerThread(): Worker {
  const worker = new Worker(new URL('./blobWorker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
  // a new isolate resets the flag that keeps the main thread's young generation small
  worker.once('online', holdHeapGrowth);
  return worker;
}

/** Threads started ahead of the pool that will take them (see prestartBlobWorkers). */
const prestarted: Worker[] = [];

/**
 * Starts `count` worker threads for a pool that is certain to come, before it can be made: a
 * thread takes ~0.1 s of a core to load its modules, which then overlaps the key derivation
 * (scrypt, on one core) instead of following it. They hold no key until a pool takes them, and
 * do not keep the process alive.
 */
export function prestartBlobWorkers(count = defaultWorkerCount()): void {
  while (prestarted.length < count) {
    const worker = workerThread();
    worker.unref();
    // one that failed or died unused is not handed to a pool (the pool hears of later failures)
    worker.on('error', () => undefined);
    worker.once('exit', () => {
      const at = prestarted.indexOf(worker);
      if (at >= 0) prestarted.splice(at, 1);
    });
    prestarted.push(worker);
  }
}

/**
 * Room for the new blobs of one run in the claim table (2^17 slots, half usable, 2.5 MiB):
 * beyond 64k new blobs workers decide alone, and a chunk two of them cut may be stored twice.
 */
const CLAIM_SLOTS = 1 << 17;

interface Pending {
  worker: Slot;
  /** the task hands its blobs to the main thread */
  sink?: BlobSink;
  /** what the sink added for this task (tasks with a sink only) */
  added?: AddedBlobs;
  resolve: (m: FromWorker) => void;
  reject: (e: Error) => void;
  /**
   * Serializes sink calls so blobs are stored in the order they were cut (tasks with a sink
   * only: a promise hop per file for nothing was measurable in a first backup)
   */
  chain?: Promise<void>;
  /** pushed streams: called for each push the worker has taken (instead of resolve) */
  onStreamAck?: () => void;
}

/** The sealed parts workers move here die once written to a pack: collected every 8 MiB. */
const collectWritten = youngCollector(8 * 1024 * 1024);

/**
 * A worker's young generation: 3 MiB is V8's initial size (two 1 MiB semi-spaces + a large
 * object share); left alone it grows to 2 x 16 MiB, all of it touched and resident, for
 * heaps that hold a few MiB of live objects.
 */
const WORKER_YOUNG_MB = 3;

/** How long close() waits for workers to remove their unfinished packs (a busy worker answers late). */
const DISCARD_WAIT_MS = 5000;

/**
 * Files sent to a worker in one message, answered in one. A message each way per file cost
 * more than its own work: the sender wakes the receiver while holding the port's lock, and the
 * woken thread, preempting the sender, blocks on that lock (perf sched: ~30 000 context
 * switches in the bench tree's first backup). Four to a message, with 8 files in flight per
 * worker so that a second message waits while the first is answered: 5.66 CPU-s and 3.65 s
 * against 6.23 and 3.87 (5 alternating runs); 8 to a message and 16 in flight were alike.
 * On session 15's VM (AMD EPYC, KVM) the main thread's postMessage of those messages still
 * took 0.24 s of its CPU profile (~50 us a message: a wake-up across vCPUs): 16 to a message
 * and 32 in flight, 3.18-3.54 s against 3.21-3.87 (median 3.26 against 3.72, 5 alternating
 * runs); 32 and 64 were alike. Files go to the worker with the fewest bytes queued, so a few
 * large files queued behind each other do not leave the other worker idle at the end.
 */
const FILES_PER_MESSAGE = 16;
/** Files a worker may have in flight: two messages' worth (see FILES_PER_MESSAGE). */
export const FILES_IN_FLIGHT_PER_WORKER = 32;

/** Pushes of one stream the worker may have queued before `push` waits (see openStream). */
const STREAM_WINDOW = 4;

interface Slot {
  worker: Worker;
  busy: number;
  /** bytes of the files queued for this worker or being read by it */
  fileBytes: number;
  /** files for this worker not sent yet: they go together once this turn of the event loop ends */
  outbox: FileToChunk[];
  /** why the worker is gone (crashed or exited): a task sent to it would never be answered */
  gone?: Error;
}

function toError(err: { message: string; code?: string; errno?: string }): Error {
  if (err.code && err.code !== 'undefined') return new OcvaultError(err.code as ErrorCode, err.message);
  const e = new Error(err.message) as Error & { code?: string };
  if (err.errno) e.code = err.errno;
  return e;
}

/** Orderings of workers for `pick`: the fewest tasks; for a file, the fewest file bytes queued, then the fewest tasks. */
function fewerTasks(a: Slot, b: Slot): boolean {
  return a.busy < b.busy;
}

function fewerFileBytes(a: Slot, b: Slot): boolean {
  return a.fileBytes < b.fileBytes || (a.fileBytes === b.fileBytes && a.busy < b.busy);
}

/**
 * The pool of blob workers. Tasks go to the least busy worker (a file to the one with the
 * fewest file bytes queued). New blobs go into packs the workers write themselves when the
 * store has a staging folder (`init.packs`), which the main thread adopts through `packSink`;
 * otherwise they stream back to `blobSink` with backpressure.
 */
export class BlobWorkers {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextTask = 1;
  private closed = false;
  private readonly init: WorkerInit;
  /** packs being adopted */
  private readonly adopting = new Set<Promise<void>>();
  private packFailure: Error | undefined;

  /** Workers start with the first task: an unchanged backup may need none. */
  constructor(
    init: BlobWorkersInit,
    private readonly blobSink: BlobSink,
    private readonly packSink: PackSink,
    private readonly count = defaultWorkerCount(),
  ) {
    this.init = { ...init, claims: BlobClaims.create(CLAIM_SLOTS).buffer };
  }

  private spawn(): void {
    for (let i = 0; i < this.count; i++) {
      const worker = prestarted.shift() ?? workerThread();
      worker.ref();
      worker.postMessage({ task: 0, kind: 'init', init: this.init } satisfies ToWorker);
      const slot: Slot = { worker, busy: 0, fileBytes: 0, outbox: [] };
      worker.on('message', (m: FromWorker) => this.onMessage(m));
      worker.on('error', (e) => {
        slot.gone ??= e;
        this.failAll(slot, e);
      });
      worker.on('exit', (code) => {
        slot.gone ??= new Error(`blob worker exited with code ${code}`);
        if (!this.closed) this.failAll(slot, slot.gone);
      });
      this.slots.push(slot);
    }
  }

  get size(): number {
    return this.count;
  }

  private failAll(slot: Slot, e: Error): void {
    for (const [task, p] of this.pending) {
      if (p.worker === slot) {
        this.pending.delete(task);
        p.reject(e);
      }
    }
  }

  private onMessage(m: FromWorker): void {
    if (m.kind === 'pack') return this.adopt(m.pack);
    if (m.kind === 'answers') {
      for (const a of m.answers) this.onMessage(a);
      return;
    }
    const p = this.pending.get(m.task);
    if (!p) return;
    if (m.kind === 'blobs') {
      const sink = p.sink;
      p.chain = (p.chain ?? Promise.resolve())
        .then(() => sink?.(m.blobs))
        .then((added) => {
          if (added) {
            p.added ??= { blobs: 0, bytes: 0 };
            p.added.blobs += added.blobs;
            p.added.bytes += added.bytes;
          }
          collectWritten(m.blobs.reduce((n, b) => n + b.length, 0));
          if (m.wantAck) p.worker.worker.postMessage({ task: m.task, kind: 'ack' } satisfies ToWorker);
        })
        .catch((e: unknown) => {
          this.pending.delete(m.task);
          p.worker.busy--;
          p.reject(e instanceof Error ? e : new Error(String(e)));
        });
      return;
    }
    // The final answer waits for the sink to have taken every blob of the task.
    const answer = (): void => {
      if (!this.pending.has(m.task)) return;
      if (m.kind === 'streamAck') {
        if (p.onStreamAck) p.onStreamAck();
        else p.resolve(m);
        return;
      }
      this.pending.delete(m.task);
      p.worker.busy--;
      if (m.kind === 'failed') p.reject(m.blob === undefined ? toError(m.error) : new BlobWriteFailure(toError(m.error), m.blob, m.target));
      else if (m.kind === 'chunked' && p.added) p.resolve({ ...m, added: { blobs: m.added.blobs + p.added.blobs, bytes: m.added.bytes + p.added.bytes } });
      else p.resolve(m);
    };
    if (p.chain) void p.chain.then(answer);
    else answer();
  }

  private adopt(pack: StagedPack): void {
    const adopting: Promise<void> = this.packSink(pack)
      .catch((e: unknown) => {
        this.packFailure ??= e instanceof Error ? e : new Error(String(e));
      })
      .finally(() => this.adopting.delete(adopting));
    this.adopting.add(adopting);
  }

  /**
   * Has every worker finish its open pack and waits until all packs are adopted: after this,
   * every blob of every finished task is in the store and indexed (or this throws).
   */
  async flushPacks(): Promise<void> {
    if (this.init.packs) await this.toEveryWorker('flushPacks');
    while (this.adopting.size) await Promise.all(this.adopting);
    if (this.packFailure) throw this.packFailure;
  }

  /** Sends a pack command to every running worker, waits for every answer, throws the first failure. */
  private async toEveryWorker(kind: 'flushPacks' | 'discardPacks'): Promise<void> {
    const answers = await Promise.allSettled(
      this.slots.map((slot) => {
        const { task } = this.startOn(slot);
        return this.send(slot, task, { task, kind });
      }),
    );
    for (const a of answers) if (a.status === 'rejected') throw a.reason;
  }

  /** The first worker that no other comes `before` (spawned when there is none yet). */
  private pick(before: (a: Slot, b: Slot) => boolean = fewerTasks): Slot {
    if (this.slots.length === 0) this.spawn();
    let best = this.slots[0]!;
    for (const s of this.slots) if (before(s, best)) best = s;
    return best;
  }

  private send(slot: Slot, task: number, msg: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    return this.answer(slot, task, () => slot.worker.postMessage(msg, transfer));
  }

  /** The worker's answer to `task`, asked for by `ask`; a failure at once when the worker is gone. */
  private answer(slot: Slot, task: number, ask: () => void): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      if (slot.gone) {
        if (this.pending.delete(task)) slot.busy--;
        reject(slot.gone);
        return;
      }
      const existing = this.pending.get(task);
      if (existing) {
        existing.resolve = resolve;
        existing.reject = reject;
      }
      ask();
    });
  }

  private start(storing = false, before: (a: Slot, b: Slot) => boolean = fewerTasks): { task: number; slot: Slot } {
    if (this.closed) throw new Error('blob workers are closed');
    // a pack that could not be stored holds blobs other tasks count on: nothing more is stored
    if (storing && this.packFailure) throw this.packFailure;
    return this.startOn(this.pick(before), storing);
  }

  private startOn(slot: Slot, storing = false): { task: number; slot: Slot } {
    slot.busy++;
    const task = this.nextTask++;
    const sink = storing && !this.init.packs ? this.blobSink : undefined;
    this.pending.set(task, { worker: slot, sink, resolve: () => undefined, reject: () => undefined });
    return { task, slot };
  }

  /**
   * Chunks a file in a worker, storing its new blobs; resolves with the content list. The file
   * is sent with the others asked for in this turn of the event loop (see FILES_PER_MESSAGE), to
   * the worker with the fewest bytes queued; `size`: the file's size as last seen.
   */
  async chunkFile(path: string | Uint8Array, size = 0): Promise<ChunkedContent> {
    const { task, slot } = this.start(true, fewerFileBytes);
    slot.fileBytes += size;
    try {
      const m = await this.answer(slot, task, () => {
        slot.outbox.push({ task, path: typeof path === 'string' ? path : { latin1: Buffer.from(path.buffer, path.byteOffset, path.byteLength).toString('latin1') } });
        if (!this.sendingFiles) {
          this.sendingFiles = true;
          setImmediate(this.sendFiles);
        }
      });
      if (m.kind !== 'chunked') throw new Error(`unexpected worker answer ${m.kind}`);
      return m;
    } finally {
      slot.fileBytes -= size;
    }
  }

  /** sendFiles is scheduled */
  private sendingFiles = false;

  /** Sends every worker its queued files, FILES_PER_MESSAGE to a message. */
  private readonly sendFiles = (): void => {
    this.sendingFiles = false;
    for (const slot of this.slots) {
      const files = slot.outbox;
      if (files.length === 0) continue;
      slot.outbox = [];
      // a worker that died since these were queued: they fail as its other tasks did
      if (slot.gone) {
        this.failAll(slot, slot.gone);
        continue;
      }
      for (let i = 0; i < files.length; i += FILES_PER_MESSAGE) slot.worker.postMessage({ task: 0, kind: 'chunkFiles', files: files.slice(i, i + FILES_PER_MESSAGE) } satisfies ToWorker);
    }
  };

  /** Opens (decrypts, decompresses, verifies) one sealed blob in a worker. */
  async openBlob(id: string, sealed: Buffer, what: string): Promise<Buffer> {
    const { task, slot } = this.start();
    const copy = sealed.byteOffset === 0 && sealed.byteLength === sealed.buffer.byteLength ? sealed : Buffer.from(sealed);
    const m = await this.send(slot, task, { task, kind: 'openBlob', id, sealed: copy, what }, [copy.buffer as ArrayBuffer]);
    if (m.kind !== 'opened') throw new Error(`unexpected worker answer ${m.kind}`);
    return Buffer.from(m.plain.buffer, m.plain.byteOffset, m.plain.byteLength);
  }

  /**
   * Opens blobs lying in `bytes` (a piece of `pack`) and writes them to their files, spread
   * over the workers in runs of about equal size. Shared memory is read in place; other bytes
   * go to one worker. Settles only once no worker reads `bytes` any more; a failure is a
   * BlobWriteFailure naming the blob (its index in `blobs`).
   */
  async writeBlobs(pack: string, bytes: Uint8Array, blobs: BlobWrite[]): Promise<WrittenBlobs> {
    const shared = bytes.buffer instanceof SharedArrayBuffer;
    const runs = shared ? splitRuns(blobs, this.count) : [blobs];
    let first = 0;
    const settled = await Promise.allSettled(
      runs.map((run) => {
        const base = first;
        first += run.length;
        return this.writeRun(pack, bytes, run).catch((e: unknown) => {
          throw e instanceof BlobWriteFailure ? new BlobWriteFailure(e.reason, e.blob + base, e.target) : e;
        });
      }),
    );
    const done: WrittenBlobs = { bytes: 0, timeFailures: [] };
    first = 0;
    for (let r = 0; r < settled.length; r++) {
      const s = settled[r]!;
      if (s.status === 'rejected') throw s.reason;
      done.bytes += s.value.bytes;
      for (const f of s.value.timeFailures) done.timeFailures.push({ ...f, blob: f.blob + first });
      first += runs[r]!.length;
    }
    return done;
  }

  private async writeRun(pack: string, bytes: Uint8Array, blobs: BlobWrite[]): Promise<WrittenBlobs> {
    const { task, slot } = this.start();
    const m = await this.send(slot, task, { task, kind: 'writeBlobs', pack, bytes, blobs });
    if (m.kind !== 'wroteBlobs') throw new Error(`unexpected worker answer ${m.kind}`);
    return m.written;
  }

  /**
   * A pushed byte stream chunked in one worker (database rows), storing its new blobs;
   * `chunks` picks the sizes.
   * Up to STREAM_WINDOW pushes travel at once: waiting for the worker after every push left
   * the producer (a database connection) and the worker idle by turns.
   */
  async openStream(chunks: 'file' | 'db'): Promise<ChunkWriter> {
    const { task, slot } = this.start(true);
    await this.send(slot, task, { task, kind: 'streamStart', chunks });
    const p = this.pending.get(task);
    if (!p) throw new Error('blob worker stream ended before it started');
    let queued = 0;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const wakeUp = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    p.onStreamAck = () => {
      queued--;
      wakeUp();
    };
    // a failure of the task (worker error, sink error) reaches whoever waits next
    p.reject = (e: Error) => {
      failure = e;
      wakeUp();
    };
    return {
      push: async (bytes: Uint8Array, owned = false) => {
        if (failure) throw failure;
        // a buffer the caller gives away is moved, not copied (never one from Node's shared pool)
        const move = owned && !(bytes.buffer instanceof SharedArrayBuffer) && bytes.buffer.byteLength >= 64 * 1024;
        queued++;
        slot.worker.postMessage({ task, kind: 'streamPush', bytes } satisfies ToWorker, move ? [bytes.buffer as ArrayBuffer] : []);
        while (queued >= STREAM_WINDOW && !failure) await new Promise<void>((resolve) => (wake = resolve));
        if (failure) throw failure;
      },
      end: async () => {
        if (failure) throw failure;
        p.onStreamAck = () => undefined;
        const m = await this.send(slot, task, { task, kind: 'streamEnd' });
        if (m.kind !== 'chunked') throw new Error(`unexpected worker answer ${m.kind}`);
        return { content: m.content, size: m.size, added: m.added };
      },
    };
  }

  /**
   * Stops the workers. A pack still open in a worker was not flushed, so the run failed: its
   * file is removed rather than left in the staging folder.
   */
  async close(): Promise<void> {
    if (this.init.packs && !this.closed) {
      const answered = this.toEveryWorker('discardPacks').catch(() => undefined);
      await Promise.race([answered, new Promise((resolve) => setTimeout(resolve, DISCARD_WAIT_MS).unref())]);
      await Promise.all(this.adopting);
    }
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/** Cuts blobs into at most `count` runs, in order, of about equal sealed size. */
function splitRuns(blobs: BlobWrite[], count: number): BlobWrite[][] {
  const total = blobs.reduce((n, b) => n + b.length, 0);
  const runs: BlobWrite[][] = [];
  let run: BlobWrite[] = [];
  let size = 0;
  for (const b of blobs) {
    run.push(b);
    size += b.length;
    if (size >= ((runs.length + 1) * total) / count && runs.length < count - 1) {
      runs.push(run);
      run = [];
    }
  }
  if (run.length) runs.push(run);
  return runs;
}

/** Bytes pushed in order, chunked in a worker; `end` gives the content list. */
export interface ChunkWriter {
  /** `owned`: the caller gives the bytes' whole buffer away (it is moved to the worker) */
  push(bytes: Uint8Array, owned?: boolean): Promise<void>;
  end(): Promise<{ content: string[]; size: number; added: AddedBlobs }>;
}
