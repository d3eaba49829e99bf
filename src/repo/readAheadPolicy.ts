/**
 * When a blob worker asks the kernel to read ahead the files queued behind the one it reads.
 *
 * On a cold page cache (a store's daily backup) read-ahead kept the device busy while the
 * worker hashed and sealed: a first backup of the bench tree took ~9.7 s instead of ~11.
 * On a warm cache it only cost, ~0.5 CPU-s of opens and hints for 20 000 files. So a worker
 * reads ahead only after a read of its own waited for the device, and while it does, leaves
 * one file in every few messages to itself: a probe that tells when the cache is warm again.
 */
export class ReadAheadPolicy {
  private cold = false;
  private messages = 0;
  private fastProbes = 0;

  /** A read slower than this many bytes per millisecond (and longer than SLOW_MS) waited for the device. */
  static readonly SLOW_BYTES_PER_MS = 200_000;
  static readonly SLOW_MS = 0.5;
  /** While reading ahead, every PROBE_EVERY-th message keeps its last file to itself. */
  static readonly PROBE_EVERY = 4;
  /** Fast probes in a row that end reading ahead. */
  static readonly FAST_PROBES = 2;

  /** For a message of `count` files: whether to read each ahead. */
  choose(count: number): boolean[] {
    this.messages++;
    const ahead = new Array<boolean>(count).fill(this.cold);
    if (this.cold && count > 0 && this.messages % ReadAheadPolicy.PROBE_EVERY === 0) ahead[count - 1] = false;
    return ahead;
  }

  /** One file's reads: their bytes, their time, and whether the file had been read ahead. */
  record(bytes: number, ms: number, readAhead: boolean): void {
    // a file read ahead says nothing of the cache (its reads were fast because of it)
    if (readAhead) return;
    const slow = ms > ReadAheadPolicy.SLOW_MS && bytes / ms < ReadAheadPolicy.SLOW_BYTES_PER_MS;
    if (slow) {
      this.cold = true;
      this.fastProbes = 0;
    } else if (this.cold && ++this.fastProbes >= ReadAheadPolicy.FAST_PROBES) {
      this.cold = false;
      this.fastProbes = 0;
    }
  }

  get readingAhead(): boolean {
    return this.cold;
  }
}
