import { closeSync, constants as C, openSync, write } from 'node:fs';
import { createRequire } from 'node:module';
import { writeAllAtSync } from './localFiles.js';
import { copyInto } from './nativeCopy.js';

/**
 * Writing files around the page cache (O_DIRECT). On the machines measured here a buffered
 * write costs the kernel ~0.8-1.1 s of CPU per GiB (new page-cache pages, dirty accounting),
 * a direct one ~0.1 s: for a backup's packs and a restore's files, that is a core-second or
 * more per 2 GiB, on 2 cores. Direct writes need memory, file offsets and lengths aligned to
 * the device's block size, so bytes go through an aligned staging buffer. Where the file
 * system refuses O_DIRECT, or no aligned memory can be had, files are written the ordinary way;
 * `OCVAULT_DIRECT_IO=0` asks for that too.
 */

/** Alignment of memory, offsets and lengths: a page covers every logical block size in use. */
export const DIRECT_ALIGN = 4096;
/**
 * Smaller files are written the ordinary way: a direct write waits for the device. (Bench
 * restore with 4, 16, 64 and 256 KiB: 16 KiB spent the least kernel time; the walls were alike
 * but for 256 KiB, which was slower.)
 */
export const DIRECT_MIN = 16 * 1024;
/** Staging buffer: direct writes of 1 MiB ran at the device's full speed here. */
const STAGE = 1024 * 1024;
/**
 * Staging buffer of a whole file that fits (most files of a store): a restore worker has up
 * to four files in flight, and a 1 MiB stage each for files of 20-500 KiB held 4 MiB per
 * worker (bench restore: peak RSS 141.6 -> 137.6-139.7 MiB, the same time).
 */
const SMALL_STAGE = 512 * 1024;

interface AlignedAlloc {
  getAlignedBuffer(size: number, alignment: number): Buffer;
}

let allocator: AlignedAlloc | null | undefined;

/** An aligned buffer, or undefined where the native allocator is not installed. */
function alignedBuffer(size: number): Buffer | undefined {
  if (allocator === undefined) {
    try {
      allocator = createRequire(import.meta.url)('@ronomon/direct-io') as AlignedAlloc;
    } catch {
      allocator = null;
    }
  }
  return allocator?.getAlignedBuffer(size, DIRECT_ALIGN);
}

/** Linux's flag; undefined where there is none. */
const O_DIRECT: number | undefined = (C as Record<string, number | undefined>).O_DIRECT;

/** Set once a file system refused a direct open: this thread writes the ordinary way since. */
let refused = false;

/**
 * Staging buffers a file has in background writes at most; one that fills while these are
 * written goes out synchronously. Unbounded, each worker came to hold 8 (one append takes a
 * whole chunk of up to 8 MiB, and a pack being finished keeps its own), all kept as spares.
 * One left this VM's disk (260 MB/s direct then) idle between writes: the 2 GiB bench backup
 * took ~1 s longer than with 2. With 2, on a disk doing ~1.2 GB/s, each blob worker still made
 * ~330 of its ~1 000 pack writes synchronously, 0.4-0.5 s blocked in all (the device stalls
 * now and then, as packs are fsync'ed): with 4 almost none, and the first backup took 4.01 s
 * against 4.23 (8 alternating runs, 6 of them faster) for 3 MiB more peak RSS. 3 and 4 were
 * alike.
 */
const BACKGROUND_WRITES = 4;

/** This thread's spare staging buffers by size (a worker may have a pack and a restored file open). */
const spares = new Map<number, Buffer[]>();

function spareStage(size: number): Buffer | undefined {
  return spares.get(size)?.pop();
}

function keepSpare(buf: Buffer): void {
  let list = spares.get(buf.length);
  if (!list) spares.set(buf.length, (list = []));
  list.push(buf);
}

function takeStage(size: number): Buffer | undefined {
  // read at every open, not once: it is a switch for comparing the two ways, tests included
  if (refused || O_DIRECT === undefined || process.env.OCVAULT_DIRECT_IO === '0') return undefined;
  const buf = spareStage(size) ?? alignedBuffer(size);
  if (!buf) refused = true;
  return buf;
}

/**
 * Opens a file direct, with a staging buffer for it: `open` is given the flag to add. Undefined
 * (nothing opened) where this thread writes the ordinary way, or once a file system refused
 * the flag (EINVAL; from then on this thread does not try again).
 */
function openDirect(open: (direct: number) => number, stageSize: number): { fd: number; stage: Buffer } | undefined {
  const stage = takeStage(stageSize);
  if (!stage) return undefined;
  try {
    return { fd: open(O_DIRECT!), stage };
  } catch (e) {
    keepSpare(stage);
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
    refused = true;
    return undefined;
  }
}

function writeFullyAsync(fd: number, buf: Uint8Array, length: number, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const next = (done: number): void => {
      if (done === length) return resolve();
      write(fd, buf, done, length - done, position + done, (err, n) => (err ? reject(err) : next(done + n)));
    };
    next(0);
  });
}

/** Writes the unaligned end of a file through the page cache, on a descriptor of its own (never through a link put in its place). */
function writeTail(file: string | Buffer, tail: Uint8Array, position: number): void {
  const fd = openSync(file, C.O_WRONLY | C.O_NOFOLLOW);
  try {
    writeAllAtSync(fd, tail, tail.byteLength, position);
  } finally {
    closeSync(fd);
  }
}

/** writeTail in the thread pool. */
async function writeTailAsync(file: string | Buffer, tail: Uint8Array, position: number): Promise<void> {
  const fd = openSync(file, C.O_WRONLY | C.O_NOFOLLOW);
  try {
    await writeFullyAsync(fd, tail, tail.byteLength, position);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `data` as the start of a file, direct, in the thread pool: the calling thread goes
 * on (opening the next blob) while the device works, where a synchronous direct write would
 * leave its core idle. `open` opens the file with the flag it is given added; `done` runs on
 * the descriptor after the last byte, before it is closed. Returns false, having written
 * nothing it keeps, where direct writes are not to be had: the caller then writes the
 * ordinary way.
 */
export async function writeDirect(file: string | Buffer, open: (direct: number) => number, data: Uint8Array, done: (fd: number) => void): Promise<boolean> {
  const direct = openDirect(open, data.byteLength <= SMALL_STAGE ? SMALL_STAGE : STAGE);
  if (!direct) return false;
  const { fd, stage } = direct;
  try {
    const whole = data.byteLength - (data.byteLength % DIRECT_ALIGN);
    for (let at = 0; at < whole; at += stage.length) {
      const n = Math.min(stage.length, whole - at);
      copyInto(stage, 0, data.subarray(at, at + n));
      try {
        await writeFullyAsync(fd, stage, n, at);
      } catch (e) {
        // a file system that took the flag but not these alignments: the caller writes it all again
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        refused = true;
        return false;
      }
    }
    if (whole < data.byteLength) writeTail(file, data.subarray(whole), whole);
    done(fd);
  } finally {
    keepSpare(stage);
    closeSync(fd);
  }
  return true;
}

/**
 * One file written from its start to its end, direct where this thread and the file system
 * can: bytes are staged, and a full staging buffer is written in the thread pool while the
 * next one fills (one that fills while BACKGROUND_WRITES are in flight is written
 * synchronously); `finish` writes the last whole blocks direct and the unaligned tail through
 * the page cache, on a second descriptor. (Padding the tail and cutting the file back made
 * ext4 read that block again, synchronously: writing 4 000 files of 20-500 KiB took 0.9-3.7 s
 * that way, 0.7 s split, 2.5-3.3 s buffered.) Where the file is not direct, parts are written
 * synchronously as they come.
 */
export class SequentialFile {
  private staged = 0;
  /** bytes of the file handed to writes (a multiple of DIRECT_ALIGN while staging) */
  private written = 0;
  private closed = false;
  /** set by endInput: nothing more is appended */
  private ended = false;
  private readonly writing = new Set<Promise<void>>();
  private failure: unknown;

  /** written around the page cache */
  readonly direct: boolean;

  private constructor(
    readonly fd: number,
    private readonly file: string | Buffer,
    private stage: Buffer | undefined,
    private readonly observe: ((bytes: Uint8Array) => void) | undefined,
  ) {
    this.direct = stage !== undefined;
  }

  /**
   * Opens `file` for writing. A file system that refuses O_DIRECT (EINVAL) gets the ordinary
   * open, minus O_EXCL: the refused open may have created the file already. `observe` sees
   * every byte of the file once, in order, as it goes out: a whole staging buffer at a time
   * where bytes are staged (a pack's name is the hash of its bytes, and hashing 1 MiB at once
   * costs less than the 4 parts of each blob one by one).
   */
  static open(file: string | Buffer, flags: number, mode: number, observe?: (bytes: Uint8Array) => void): SequentialFile {
    let tried = false;
    const direct = openDirect((d) => {
      tried = true;
      return openSync(file, flags | d, mode);
    }, STAGE);
    if (direct) return new SequentialFile(direct.fd, file, direct.stage, observe);
    // a direct open that was refused may have created the file already
    return new SequentialFile(openSync(file, tried ? flags & ~C.O_EXCL : flags, mode), file, undefined, observe);
  }

  /** Takes the parts (copied, when staged: they may be reused at once); throws an earlier write's failure. */
  append(parts: readonly Uint8Array[]): void {
    if (this.failure) throw this.failure;
    if (this.ended) throw new Error('internal: append after finish');
    for (const p of parts) {
      if (!this.stage) {
        this.observe?.(p);
        writeAllAtSync(this.fd, p, p.byteLength, this.written);
        this.written += p.byteLength;
        continue;
      }
      let from = 0;
      while (from < p.byteLength) {
        const buf = this.stage;
        const n = Math.min(p.byteLength - from, buf.length - this.staged);
        buf.set(p.subarray(from, from + n), this.staged);
        this.staged += n;
        from += n;
        if (this.staged < buf.length) continue;
        this.observe?.(buf);
        if (this.writing.size >= BACKGROUND_WRITES) {
          // the device is behind: this thread waits for it here and fills the same stage again
          writeAllAtSync(this.fd, buf, buf.length, this.written);
          this.written += buf.length;
          this.staged = 0;
        } else {
          this.writeStage(buf.length);
          // a staged file keeps staging: a buffer of the same kind, whatever the switch says now
          this.stage = spareStage(STAGE) ?? alignedBuffer(STAGE)!;
        }
      }
    }
  }

  /**
   * Writes the first `length` bytes of the stage in the background (and `tail`, through the
   * page cache, before them); the buffer is spare again after.
   */
  private writeStage(length: number, tail?: { bytes: Uint8Array; position: number }): void {
    const buf = this.stage!;
    const at = this.written;
    const write = async (): Promise<void> => {
      if (tail) await writeTailAsync(this.file, tail.bytes, tail.position);
      if (length > 0) await writeFullyAsync(this.fd, buf, length, at);
      keepSpare(buf);
    };
    const w: Promise<void> = write()
      .catch((e: unknown) => {
        this.failure ??= e;
      })
      .finally(() => this.writing.delete(w));
    this.writing.add(w);
    this.written += length;
    this.staged = 0;
  }

  /** Waits while more than `max` writes are in flight; throws a write's failure. */
  async settle(max: number): Promise<void> {
    while (this.writing.size > max) await Promise.race(this.writing);
    if (this.failure) throw this.failure;
  }

  /**
   * Ends the input, at once: what is still staged is observed and handed to writes (the tail
   * written through the page cache here). Nothing can be appended after.
   */
  endInput(): void {
    if (this.ended) return;
    this.ended = true;
    const buf = this.stage;
    if (buf && this.staged > 0) {
      this.observe?.(buf.subarray(0, this.staged));
      const whole = this.staged - (this.staged % DIRECT_ALIGN);
      const tail = this.staged - whole;
      // The tail goes with the last whole blocks, in the thread pool. Written here, it waited
      // for the inode's lock, which ext4 holds through each direct write that extends the file,
      // behind the writes still in flight (bench first backup: 0.04-0.17 s of each worker).
      this.writeStage(whole, tail > 0 ? { bytes: buf.subarray(whole, this.staged), position: this.written + whole } : undefined);
      this.stage = undefined;
      this.written += tail;
      this.staged = 0;
    }
  }

  /** Ends the input and waits for every write: the file then holds exactly the bytes appended (and any tail it had). */
  async finish(): Promise<void> {
    this.endInput();
    await this.settle(0);
  }

  /** Closes the file (once) when no write is in flight any more; the staging buffer goes back to this thread's spares. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.writing.size) await Promise.race(this.writing);
    if (this.stage) keepSpare(this.stage);
    this.stage = undefined;
    closeSync(this.fd);
  }
}
