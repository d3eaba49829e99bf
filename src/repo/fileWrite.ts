import { closeSync, constants as C, ftruncateSync, lstatSync, openSync, rmSync, unlinkSync } from 'node:fs';
import { writeDirect } from '../storage/directWrite.js';
import { writeAllAtSync } from '../storage/localFiles.js';

const FLAGS = C.O_WRONLY | C.O_CREAT | C.O_NOFOLLOW;

/** Removes whatever stands at `file` (a directory with its contents); nothing there is fine. */
export function removeIfPresentSync(file: Buffer): void {
  try {
    if (lstatSync(file).isDirectory()) rmSync(file, { recursive: true, force: true });
    else unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/**
 * Opens a file for writing without following a symlink that stands in its place; a link, a
 * directory or a read-only file in the way is removed first (restore replaces, never follows).
 */
function openReplacing<T>(file: Buffer, open: (file: Buffer) => T): T {
  try {
    return open(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ELOOP' && code !== 'EISDIR' && code !== 'EACCES') throw e;
    removeIfPresentSync(file);
    return open(file);
  }
}

/** A descriptor, and whether this open created the file (it is empty: nothing to cut back). */
interface Opened {
  fd: number;
  created: boolean;
}

/**
 * Creates the file if it can (O_EXCL), else opens what stands there. Knowing the file is new
 * spares its ftruncate: a restore writes ~16 000 new files in the bench, and the truncate of
 * each (a metadata update under the inode lock) was ~2 % of the restore's CPU.
 */
function openCreating(file: Buffer, direct: number): Opened {
  try {
    return { fd: openSync(file, FLAGS | C.O_EXCL | direct, 0o600), created: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return { fd: openSync(file, FLAGS | direct, 0o600), created: false };
}

/**
 * Writes `data` at `position` of a restored file, and cuts the file to `truncateTo` when
 * given. Synchronous on purpose: restore writes whole blobs into the page cache, and a
 * thread-pool round trip per open, write and close cost more than the copies. `beforeClose`
 * runs on the descriptor after the write (to set the metadata of a file it completes).
 */
export function writeAtSync(file: Buffer, data: Uint8Array, position: number, truncateTo?: number, beforeClose?: (fd: number) => void): void {
  const { fd, created } = openReplacing(file, (f) => openCreating(f, 0));
  try {
    writeAllAtSync(fd, data, data.length, position);
    // a file this open created ends where the write ended; one that stood there may be longer
    if (truncateTo !== undefined && !(created && truncateTo === position + data.length)) ftruncateSync(fd, truncateTo);
    beforeClose?.(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `data` as the whole content of a restored file (replacing what stands there, as
 * `writeAtSync` does), around the page cache and in the thread pool where the file system
 * allows: most restored files are one blob, and buffered writes cost the kernel far more than
 * direct ones (directWrite.ts); the caller leaves small files to `writeAtSync` (DIRECT_MIN).
 * `beforeClose` runs on the descriptor after the write.
 */
export async function writeWhole(file: Buffer, data: Uint8Array, beforeClose?: (fd: number) => void): Promise<void> {
  let created = false;
  const open = (direct: number): number => {
    const opened = openReplacing(file, (f) => openCreating(f, direct));
    created = opened.created;
    return opened.fd;
  };
  const finish = (fd: number): void => {
    if (!created) ftruncateSync(fd, data.byteLength);
    beforeClose?.(fd);
  };
  if (await writeDirect(file, open, data, finish)) return;
  writeAtSync(file, data, 0, data.byteLength, beforeClose);
}
