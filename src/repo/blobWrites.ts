import { fchmodSync, fchownSync, futimesSync } from 'node:fs';
import { writeAtSync, writeWhole } from './fileWrite.js';
import { DIRECT_MIN } from '../storage/directWrite.js';
import { WriteRates } from './writeRates.js';

/**
 * Restore's unit of work for a blob worker: the blobs of one piece of a pack, each opened once
 * and written to every place that uses it. One message per batch instead of one per blob (a
 * postMessage, a promise and a task each way), and the metadata of a file that one write
 * completes is set on that write's descriptor (no path lookups, no main-thread syscalls).
 */

/** A restored file's metadata, set after its last byte is written. */
export interface FileMeta {
  /** permission bits */
  mode: number;
  /** seconds since the epoch */
  mtime: number;
  /** set only when owners are restored */
  uid?: number;
  gid?: number;
}

export interface BlobTarget {
  /**
   * The file's path: its bytes as a one-byte (latin1) string. A message copies a string, where
   * a byte array costs an ArrayBuffer on each side (20k of them in the bench restore).
   */
  file: string;
  position: number;
  /** cut the file to this size after the write */
  truncateTo?: number;
  /** this write completes the file: set its metadata too */
  meta?: FileMeta;
}

export interface BlobWrite {
  id: string;
  /** where the sealed blob lies in the batch's bytes */
  offset: number;
  length: number;
  targets: BlobTarget[];
}

/** A modification time the file system would not take (it costs only the time, not the restore). */
export interface TimeFailure {
  blob: number;
  target: number;
  reason: string;
}

export interface WrittenBlobs {
  /** plain bytes written */
  bytes: number;
  timeFailures: TimeFailure[];
}

/** Which blob of a batch (and which of its targets, when writing) failed, and why. */
export class BlobWriteFailure extends Error {
  constructor(
    readonly reason: Error,
    readonly blob: number,
    readonly target?: number,
  ) {
    super(reason.message);
  }
}

/** Opens (decrypts, decompresses, verifies) one sealed blob; throws when it is damaged. */
export type BlobOpener = (id: string, sealed: Uint8Array, what: string) => Buffer;

/**
 * Whole-file writes a thread has in flight at most: enough to keep the device busy while the
 * thread opens the next blobs, few enough that their blobs and staging buffers stay small.
 * (Beyond them files go through the page cache: see writeBlobs.)
 */
const WRITES_IN_FLIGHT = 4;
const inFlight = new Set<Promise<void>>();
const rates = new WriteRates();

function overflowAllowed(bytes: number): boolean {
  const forced = process.env.OCVAULT_WRITE_OVERFLOW;
  return forced === '0' ? false : forced === '1' ? true : rates.overflowPays(bytes);
}

function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

/**
 * Writes a batch of blobs from `bytes` (a piece of `pack`); `onOpened` hears each blob's size.
 * A blob that is a whole file is written in the background while the next ones are opened;
 * settles only once every write is done (so `bytes` is no longer read), and then throws the
 * first failure, if any.
 */
export async function writeBlobs(pack: string, bytes: Uint8Array, blobs: readonly BlobWrite[], open: BlobOpener, onOpened?: (size: number) => void): Promise<WrittenBlobs> {
  const done: WrittenBlobs = { bytes: 0, timeFailures: [] };
  const mine: Promise<void>[] = [];
  let failure: BlobWriteFailure | undefined;
  for (let i = 0; i < blobs.length && !failure; i++) {
    const b = blobs[i]!;
    let plain: Buffer;
    try {
      plain = open(b.id, bytes.subarray(b.offset, b.offset + b.length), `blob ${b.id.slice(0, 12)} in pack ${pack}`);
    } catch (e) {
      failure = new BlobWriteFailure(e as Error, i);
      break;
    }
    for (let t = 0; t < b.targets.length && !failure; t++) {
      const target = b.targets[t]!;
      const meta = target.meta;
      const file = Buffer.from(target.file, 'latin1');
      const setMeta = meta && ((fd: number): void => {
        const reason = setMetaSync(fd, meta);
        if (reason) done.timeFailures.push({ blob: i, target: t, reason });
      });
      // A whole file big enough to go direct is written in the background; the rest at once,
      // through the page cache. So is a whole file that finds every write in flight, while
      // that has cost this thread less than waiting (WriteRates): the kernel writes it back as
      // the device catches up, where waiting for a slow disk left the workers idle half the
      // time. OCVAULT_WRITE_OVERFLOW=0 always waits, =1 never does.
      const whole = target.position === 0 && target.truncateTo === plain.length && plain.length >= DIRECT_MIN;
      if (whole && inFlight.size >= WRITES_IN_FLIGHT && !overflowAllowed(plain.length)) {
        const started = monotonicNs();
        while (inFlight.size >= WRITES_IN_FLIGHT) await Promise.race(inFlight);
        rates.waited(monotonicNs() - started);
        if (failure) break;
      }
      if (whole && inFlight.size < WRITES_IN_FLIGHT) {
        const write: Promise<void> = writeWhole(file, plain, setMeta)
          .catch((e: unknown) => {
            failure ??= new BlobWriteFailure(e as Error, i, t);
          })
          .finally(() => inFlight.delete(write));
        inFlight.add(write);
        mine.push(write);
      } else {
        const started = whole ? monotonicNs() : 0;
        try {
          writeAtSync(file, plain, target.position, target.truncateTo, setMeta);
        } catch (e) {
          failure = new BlobWriteFailure(e as Error, i, t);
        }
        if (whole) rates.buffered(plain.length, monotonicNs() - started);
      }
      done.bytes += plain.length;
    }
    // a view of `bytes` (a raw blob decrypted where it lay) leaves nothing to collect
    onOpened?.(plain.buffer === bytes.buffer ? 0 : plain.length);
  }
  await Promise.all(mine);
  if (failure) throw failure;
  return done;
}

/** Owner (when given), mode, then times, on an open file; returns why the time could not be set. */
function setMetaSync(fd: number, meta: FileMeta): string | undefined {
  if (meta.uid !== undefined && meta.gid !== undefined) {
    try {
      fchownSync(fd, meta.uid, meta.gid);
    } catch {
      // an owner that cannot be set is not worth failing the restore
    }
  }
  fchmodSync(fd, meta.mode);
  try {
    futimesSync(fd, meta.mtime, meta.mtime);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' ? code : (e as Error).message;
  }
  return undefined;
}
