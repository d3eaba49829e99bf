import { closeSync, constants as C, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';

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

/** This thread's spare staging buffers (a worker may have a pack and a restored file open). */
const spare: Buffer[] = [];

function takeStage(): Buffer | undefined {
  // read at every open, not once: it is a switch for comparing the two ways, tests included
  if (refused || O_DIRECT === undefined || process.env.OCVAULT_DIRECT_IO === '0') return undefined;
  const buf = spare.pop() ?? alignedBuffer(STAGE);
  if (!buf) refused = true;
  return buf;
}

function writeFully(fd: number, buf: Uint8Array, length: number, position: number): void {
  let done = 0;
  while (done < length) done += writeSync(fd, buf, done, length - done, position + done);
}

/**
 * One file written from its start to its end, direct where this thread and the file system
 * can: bytes are staged and go out a whole buffer at a time, and `finish` writes the last
 * whole blocks direct and the unaligned tail through the page cache, on a second descriptor.
 * (Padding the tail and cutting the file back made ext4 read that block again, synchronously:
 * writing 4 000 files of 20-500 KiB took 0.9-3.7 s that way, 0.7 s split, 2.5-3.3 s buffered.)
 * Where the file is not direct, parts are written as they come.
 */
export class SequentialFile {
  private staged = 0;
  /** bytes of the file written out (a multiple of DIRECT_ALIGN while staging) */
  private written = 0;
  private closed = false;

  private constructor(
    readonly fd: number,
    private readonly file: string | Buffer,
    private stage: Buffer | undefined,
  ) {}

  /**
   * Opens `file` for writing. A file system that refuses O_DIRECT (EINVAL) gets the ordinary
   * open, minus O_EXCL: the refused open may have created the file already.
   */
  static open(file: string | Buffer, flags: number, mode: number): SequentialFile {
    const stage = takeStage();
    if (stage) {
      try {
        return new SequentialFile(openSync(file, flags | O_DIRECT!, mode), file, stage);
      } catch (e) {
        spare.push(stage);
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        refused = true;
        return new SequentialFile(openSync(file, flags & ~C.O_EXCL, mode), file, undefined);
      }
    }
    return new SequentialFile(openSync(file, flags, mode), file, undefined);
  }

  get direct(): boolean {
    return this.stage !== undefined;
  }

  append(parts: readonly Uint8Array[]): void {
    const buf = this.stage;
    for (const p of parts) {
      if (!buf) {
        writeFully(this.fd, p, p.byteLength, this.written);
        this.written += p.byteLength;
        continue;
      }
      let from = 0;
      while (from < p.byteLength) {
        const n = Math.min(p.byteLength - from, buf.length - this.staged);
        buf.set(p.subarray(from, from + n), this.staged);
        this.staged += n;
        from += n;
        if (this.staged === buf.length) {
          writeFully(this.fd, buf, buf.length, this.written);
          this.written += buf.length;
          this.staged = 0;
        }
      }
    }
  }

  /** Writes what is staged: the file then holds exactly the bytes appended (and any tail it had). */
  finish(): void {
    const buf = this.stage;
    if (!buf || this.staged === 0) return;
    const whole = this.staged - (this.staged % DIRECT_ALIGN);
    if (whole > 0) writeFully(this.fd, buf, whole, this.written);
    if (whole < this.staged) {
      const tail = openSync(this.file, C.O_WRONLY);
      try {
        writeFully(tail, buf.subarray(whole, this.staged), this.staged - whole, this.written + whole);
      } finally {
        closeSync(tail);
      }
    }
    this.written += this.staged;
    this.staged = 0;
  }

  /** Closes the file (once); the staging buffer goes back to this thread's spares. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.stage) spare.push(this.stage);
    this.stage = undefined;
    closeSync(this.fd);
  }
}
