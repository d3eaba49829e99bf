/**
 * What a whole restored file that finds every direct write of its thread in flight costs the
 * thread each way: waiting until a direct write ends (then it goes direct too), or writing it
 * through the page cache at once. It goes through the page cache only while that has taken
 * less time, for a file of its size, than a quarter of a wait (WAIT_SHARE).
 *
 * On session 13's VM (a disk of ~240 MiB/s, a page cache in warm memory) the waits were long
 * and the page cache fast. On sessions 14's and 15's the disk took 1-2 GB/s, and memory the
 * guest had not touched lately came back from the host at ~0.5 GB/s on first touch: the page
 * cache's copies of the bench restore's overflowing files were 35 % of all its CPU samples.
 * Session 14 compared the page cache's rate with the direct writes' throughput instead, timed
 * from the thread that starts them; a thread busy writing through the page cache hears late
 * that its direct writes ended, so they looked slow, and the bench restore kept overflowing.
 * A wait is timed while the thread has nothing else to do, so it is what a direct write costs
 * the thread. Waiting also leaves the core to other threads, where a copy uses it.
 */
export class WriteRates {
  private waitNs = 0;
  private waits = 0;
  private bufferedBytes = 0;
  private bufferedNs = 0;
  private declined = 0;

  /** The thread waited `ns` for one of its direct writes to end. */
  waited(ns: number): void {
    this.waitNs += ns;
    if (++this.waits > WAITS_WEIGHED) {
      this.waits /= 2;
      this.waitNs /= 2;
    }
  }

  /** A whole file went through the page cache: `bytes` in `ns` of this thread's time. */
  buffered(bytes: number, ns: number): void {
    this.bufferedBytes += bytes;
    this.bufferedNs += ns;
    if (this.bufferedBytes > BYTES_WEIGHED) {
      this.bufferedBytes /= 2;
      this.bufferedNs /= 2;
    }
  }

  /** Whether a whole file of `bytes` that finds every direct write in flight should go through the page cache. */
  overflowPays(bytes: number): boolean {
    const timed = this.bufferedBytes >= SAMPLE_BYTES;
    // this file's time through the page cache against a share of the mean wait, without dividing
    if (timed && this.waits >= SAMPLE_WAITS && bytes * this.bufferedNs * this.waits * WAIT_SHARE < this.waitNs * this.bufferedBytes) return true;
    // now and then all the same, so the page cache is timed (more often until it has been)
    return ++this.declined % (timed ? PROBE_EVERY : PROBE_EVERY_UNTIMED) === 0;
  }
}

/**
 * A file goes through the page cache only when that takes less than a quarter of a wait: the
 * copy holds a core, where a wait leaves it to the other threads of a restore (the other
 * worker, the thread pool's writes, the main thread) and to the kernel's writeback.
 */
const WAIT_SHARE = 4;
/** Bytes through the page cache and waits before the two are compared. */
const SAMPLE_BYTES = 1024 * 1024;
const SAMPLE_WAITS = 8;
/** What the figures weigh: older ones count half each time these fill. */
const BYTES_WEIGHED = 64 * 1024 * 1024;
const WAITS_WEIGHED = 512;
/** One declined overflow in this many goes through the page cache anyway. */
const PROBE_EVERY = 16;
const PROBE_EVERY_UNTIMED = 4;
