import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A young-generation collection every `every` bytes of buffers a thread has let go of.
 * The buffers that blobs pass through (cipher output, compressor output, sealed parts moved
 * between threads) are malloc'd outside the V8 heap, while the heap itself grows slowly, so V8
 * would let tens of MiB of them pile up dead in each thread before collecting; a minor
 * collection frees them for well under a millisecond.
 */
setFlagsFromString('--expose-gc');
const collectYoung = runInNewContext('gc') as (o: { type: 'minor' }) => void;

export function youngCollector(every: number): (bytes: number) => void {
  let uncollected = 0;
  return (bytes) => {
    uncollected += bytes;
    if (uncollected < every) return;
    uncollected = 0;
    collectYoung({ type: 'minor' });
  };
}

/**
 * Keeps the heaps small. The young generation stays at V8's initial size (2 x 1 MiB
 * semi-spaces) instead of doubling up to 2 x 16 MiB: every page of it gets touched, so it all
 * counts in RSS, while scavenges of the small one cost no more CPU here. The old generation
 * may grow to 1.3 times what was live after the last full collection: V8's own factor (up to 4)
 * let the main thread's heap reach 40 MiB around 13 MiB of live objects in the bench backup;
 * at 1.3 it peaked at 21 MiB (process peak RSS -20 MiB) for the same GC time (1.16 vs 1.19 s).
 * Both factors are read at each growth, so setting them works after start-up; but every new
 * isolate (a worker thread) resets the semi-space one to at least 2 as its heap is set up, so
 * call this again once workers are online.
 */
export function holdHeapGrowth(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--heap-growing-percent=30');
}
