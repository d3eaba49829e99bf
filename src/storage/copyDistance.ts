import { nativeAddon } from './nativeAddon.js';

/**
 * Where a read should land in its buffer so the kernel copies it at full speed.
 *
 * On AMD Zen 3 (one of the VMs this project is built and measured on) the kernel's `rep movsb`
 * copy from the page cache runs at ~2 GB/s instead of ~12 GB/s when the destination lies 1-31
 * bytes past the source within a 4 KiB page (measured with `read` from a cached file into every
 * page offset). The distance stays the same over a whole sequential read, and a large buffer
 * from malloc starts 16 bytes into its page: every file's first read, at position 0, hit it,
 * and so did most of a backup's 2 GiB of reads (the copy was 16 % of a blob worker's time).
 */

const PAGE = 4096;
/** The slow distances end at 32; 64 keeps a margin for CPUs not measured. */
export const SLOW_DISTANCE = 64;

/**
 * Bytes to move a read's destination forward so that its distance past the source, within a
 * page, is 0 or at least SLOW_DISTANCE. `destPageOffset`: the destination's offset within its
 * page; `filePos`: the file position read from.
 */
export function readSlack(destPageOffset: number, filePos: number): number {
  const d = (((destPageOffset - filePos) % PAGE) + PAGE) % PAGE;
  return d > 0 && d < SLOW_DISTANCE ? SLOW_DISTANCE - d : 0;
}

/** The offset of a view's first byte within its memory page, or undefined without ocvault's addon. */
export function pageOffsetOf(bytes: Uint8Array): number | undefined {
  return nativeAddon()?.pageOffset?.(bytes);
}
