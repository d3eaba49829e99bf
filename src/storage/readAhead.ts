import { nativeAddon } from './nativeAddon.js';

const NUL = Buffer.alloc(1);

/**
 * Asks the kernel to start reading the first 8 MiB of each file into the page cache, from one
 * thread-pool job, without waiting: for files a reader will open soon. A no-op without
 * ocvault's addon. Errors are left to the reads that follow.
 */
export function readAhead(paths: readonly (string | Buffer)[]): void {
  const prefetch = nativeAddon()?.prefetch;
  if (!prefetch || paths.length === 0) return;
  const parts: Buffer[] = [];
  for (const p of paths) parts.push(typeof p === 'string' ? Buffer.from(p) : p, NUL);
  prefetch(Buffer.concat(parts));
}
