import { nativeAddon } from './nativeAddon.js';

/**
 * Frees the page-cache pages of a range of an open file that was just read and will not be
 * read again, from the thread pool, without waiting (a no-op without ocvault's addon).
 *
 * A restore reads each piece of a pack once, `check --read-data` and prune's repacking each
 * pack whole once. Left cached, a repository's packs push the store's own files out of the
 * page cache for nothing. And on the VMs measured here, memory the guest had not used lately
 * comes back from the host slowly on first touch, while pages freed a moment ago are reused
 * warm: the restored files' page-cache pages and new inodes then take the packs' freed pages
 * (bench restore: ~0.6 s less system time; native-notes.md, session 17).
 */
export function dropBehind(fd: number, offset: number, length: number): void {
  nativeAddon()?.dropCached?.(fd, offset, length);
}
