import { nativeAddon } from './nativeAddon.js';

/**
 * Copies `src` into `dst` at `offset`. V8 copies views of shared memory (a restore's pack
 * pieces, which both workers read) with relaxed atomics, a word at a time: that copy into the
 * direct-write stage was ~0.7 of the bench restore's ~8 CPU-s. ocvault's addon has a plain
 * memcpy; without it (or in a build from before it had one), the ordinary copy.
 */
export function copyInto(dst: Uint8Array, offset: number, src: Uint8Array): void {
  const copy = nativeAddon()?.copy;
  if (copy) copy(dst, offset, src);
  else dst.set(src, offset);
}
