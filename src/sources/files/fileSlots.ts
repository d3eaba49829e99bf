/**
 * Slots for files in flight: `take` gives one at once when free (no promise), else a promise
 * that resolves when `give` hands one over, first come first served. A slot per file costs no
 * closure or promise unless it waits: p-limit's ~1.2 KB of them per call were a tenth of a
 * first backup's main-thread allocation.
 */
export class FileSlots {
  private free: number;
  private readonly waiters: (() => void)[] = [];
  private next = 0;

  constructor(size: number) {
    this.free = size;
  }

  /** Files waiting for a slot. */
  get waiting(): number {
    return this.waiters.length - this.next;
  }

  take(): Promise<void> | undefined {
    if (this.free > 0) {
      this.free--;
      return undefined;
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  give(): void {
    if (this.next < this.waiters.length) {
      const resolve = this.waiters[this.next]!;
      this.waiters[this.next++] = noop;
      // the queue is compacted once its front is half of it (no shift per file)
      if (this.next * 2 >= this.waiters.length && this.next > 64) {
        this.waiters.splice(0, this.next);
        this.next = 0;
      }
      resolve();
      return;
    }
    this.free++;
  }
}

function noop(): void {}
