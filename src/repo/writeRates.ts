/**
 * How fast one thread's restore writes go each way: direct (around the page cache, in the
 * thread pool, several at once) and through the page cache (synchronous, one at a time). A
 * whole file that finds every direct write in flight goes through the page cache only while
 * that has been the faster way to get bytes out of the thread.
 *
 * It was by far on session 13's VM (a disk of ~240 MiB/s, a page cache in warm memory). On
 * session 14's it was the slower way: the disk took ~1 GB/s, but memory the guest had not
 * touched lately came back from the host at ~0.4 GB/s on first touch, and the page cache's
 * copies of the bench restore's overflowing files were 34-40 % of all its CPU samples.
 */
export class WriteRates {
  private directBytes = 0;
  /** time with at least one direct write in flight */
  private directBusyNs = 0;
  private busySince = 0;
  private inFlight = 0;
  private bufferedBytes = 0;
  private bufferedNs = 0;
  private declined = 0;

  constructor(private readonly now: () => number = monotonicNs) {}

  directStarted(): void {
    if (this.inFlight++ === 0) this.busySince = this.now();
  }

  /** A direct write ended; `bytes` it wrote (0 when it failed). */
  directEnded(bytes: number): void {
    this.directBytes += bytes;
    if (--this.inFlight === 0) this.directBusyNs += this.now() - this.busySince;
    if (this.directBytes > WINDOW) {
      this.directBytes /= 2;
      this.directBusyNs /= 2;
    }
  }

  /** A file went through the page cache: `bytes` in `ns` of this thread's time. */
  buffered(bytes: number, ns: number): void {
    this.bufferedBytes += bytes;
    this.bufferedNs += ns;
    if (this.bufferedBytes > WINDOW) {
      this.bufferedBytes /= 2;
      this.bufferedNs /= 2;
    }
  }

  /** Whether a whole file that finds every direct write in flight should go through the page cache. */
  overflowPays(): boolean {
    // until both ways have been timed on some data
    if (this.bufferedBytes < SAMPLE || this.directBytes < SAMPLE) return true;
    const busyNs = this.directBusyNs + (this.inFlight > 0 ? this.now() - this.busySince : 0);
    // bytes per ns through the page cache against direct, without dividing
    if (this.bufferedBytes * busyNs >= this.directBytes * this.bufferedNs) return true;
    // now and then all the same, so the rate through the page cache is measured again
    return ++this.declined % PROBE_EVERY === 0;
  }
}

/** Bytes each way before their rates are compared. */
const SAMPLE = 4 * 1024 * 1024;
/** Bytes each way that the rates weigh: older ones count half each time this fills. */
const WINDOW = 64 * 1024 * 1024;
/** One declined overflow in this many goes through the page cache anyway. */
const PROBE_EVERY = 16;

function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}
