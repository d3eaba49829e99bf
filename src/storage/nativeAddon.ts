import { createRequire } from 'node:module';

/**
 * What ocvault's own addon (native/aead, built on install) exports: AEAD in place (see
 * repo/nativeAead.ts), a memcpy (nativeCopy.ts), a view's page offset (copyDistance.ts),
 * read-ahead of files (readAhead.ts), drop-behind of ranges read once (dropBehind.ts) and
 * directory scans (sources/files/dirScan.ts). A build older than the checkout it sits in
 * (updated without a rebuild) may lack the later ones, so each is optional.
 */
export interface NativeAddon {
  seal?: (cipher: number, key: Uint8Array, nonce: Uint8Array, parts: readonly Uint8Array[], tag: Uint8Array) => void;
  open?: (cipher: number, key: Uint8Array, nonce: Uint8Array, bytes: Uint8Array, tag: Uint8Array) => boolean;
  copy?: (dst: Uint8Array, offset: number, src: Uint8Array) => void;
  /** the view's start within its memory page (copyDistance.ts) */
  pageOffset?: (bytes: Uint8Array) => number;
  /** starts reading the heads of files (names each ended by a NUL) into the page cache, from the thread pool (readAhead.ts) */
  prefetch?: (paths: Uint8Array) => void;
  /** directories' entries with the lstat of each (names each ended by a NUL), in one thread-pool job; an errno number for one that cannot be read (sources/files/dirScan.ts) */
  scanDirs?: (paths: Uint8Array) => Promise<(Buffer | number)[]>;
  /** frees the page-cache pages of a range of an open file (POSIX_FADV_DONTNEED) */
  dropCached?: (fd: number, offset: number, length: number) => void;
}

let loaded: NativeAddon | null | undefined;

/**
 * The addon, or undefined where it was not built (no compiler on install) or
 * `OCVAULT_NATIVE_AEAD=0` asks for node's own code instead (read at every call: a switch for
 * comparing the two ways, tests included).
 */
export function nativeAddon(): NativeAddon | undefined {
  if (process.env.OCVAULT_NATIVE_AEAD === '0') return undefined;
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)('../../../native/aead/build/Release/aead.node') as NativeAddon;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}
