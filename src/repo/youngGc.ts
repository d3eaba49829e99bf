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
 * Keeps this thread's young generation at V8's initial size (2 x 1 MiB semi-spaces) instead
 * of letting it double up to 2 x 16 MiB: every page of it gets touched, so it all counts in
 * RSS, while scavenges of the small one cost no more CPU here. The growth factor is read at
 * each growth, so setting it works after start-up; but every new isolate (a worker thread)
 * resets it to at least 2 as its heap is set up, so call this again once workers are online.
 */
export function holdYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
