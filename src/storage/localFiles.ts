import { writeSync, writevSync } from 'node:fs';
import { OcvaultError, errnoCode } from '../errors/OcvaultError.js';

/** Writing files of a local store, shared by the local backend and threads that write into it. */

/** A failed operation on a file of a local store, as one line naming the file. */
export function localFileError(op: string, file: string, e: unknown): OcvaultError {
  const code = errnoCode(e);
  const reason = code === 'ENOSPC' ? 'no space left on device' : code ?? (e instanceof Error ? e.message : String(e));
  return new OcvaultError('StorageError', `cannot ${op} ${file}: ${reason}`, { file, errno: code }, { cause: e });
}

/** writev takes at most IOV_MAX buffers at a time. */
export const WRITEV_BATCH = 512;

/** What is left of `pending` after `written` bytes of its first `taken` parts went out (a short write continues where it stopped). */
export function leftAfter(pending: readonly Uint8Array[], taken: number, written: number): Uint8Array[] {
  let i = 0;
  while (i < taken && written >= pending[i]!.byteLength) written -= pending[i++]!.byteLength;
  return i < taken ? [pending[i]!.subarray(written), ...pending.slice(i + 1)] : pending.slice(taken);
}

export function writeAllSync(fd: number, parts: readonly Uint8Array[]): void {
  let pending = parts.filter((p) => p.byteLength > 0);
  while (pending.length) {
    const batch = pending.slice(0, WRITEV_BATCH);
    pending = leftAfter(pending, batch.length, writevSync(fd, batch as NodeJS.ArrayBufferView[]));
  }
}

/** Writes `length` bytes of `buf` at `position` of `fd`, however short the single writes are. */
export function writeAllAtSync(fd: number, buf: Uint8Array, length: number, position: number): void {
  let done = 0;
  while (done < length) done += writeSync(fd, buf, done, length - done, position + done);
}
