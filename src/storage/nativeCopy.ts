import { createRequire } from 'node:module';

interface CopyAddon {
  copy(dst: Uint8Array, offset: number, src: Uint8Array): void;
}

let addon: CopyAddon | null | undefined;

/**
 * Copies `src` into `dst` at `offset`. V8 copies views of shared memory (a restore's pack
 * pieces, which both workers read) with relaxed atomics, a word at a time: that copy into the
 * direct-write stage was ~0.7 of the bench restore's ~8 CPU-s. ocvault's addon (native/aead,
 * see repo/nativeAead.ts) has a plain memcpy; without it, the ordinary copy.
 */
export function copyInto(dst: Uint8Array, offset: number, src: Uint8Array): void {
  if (addon === undefined) {
    try {
      const loaded = createRequire(import.meta.url)('../../../native/aead/build/Release/aead.node') as Partial<CopyAddon>;
      // a build from before copy() existed (not rebuilt since) has seal and open only
      addon = typeof loaded.copy === 'function' ? (loaded as CopyAddon) : null;
    } catch {
      addon = null;
    }
  }
  if (addon && process.env.OCVAULT_NATIVE_AEAD !== '0') addon.copy(dst, offset, src);
  else dst.set(src, offset);
}
