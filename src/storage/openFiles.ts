import { closeSync, openSync, read } from 'node:fs';
import { dropBehind } from './dropBehind.js';

interface OpenFile {
  fd: number;
  /** reads in flight: the file is closed only once they are done */
  readers: number;
  /** removed or replaced meanwhile: close when the last reader is done */
  stale: boolean;
}

/**
 * Files kept open for ranged reads. A database restore reads tens of thousands of small
 * blobs from a few dozen packs; an open, read and close per blob cost the main thread three
 * thread-pool round trips each (2.2 s of a bench restore's 4.3 s of JS time). Least recently
 * used files beyond `max` are closed once nobody reads them.
 */
export class OpenFiles {
  private readonly files = new Map<string, OpenFile>();

  constructor(private readonly max = 32) {}

  /**
   * Reads `length` bytes at `position` of `file` into `target`; returns how many were there.
   * `once`: the bytes will not be read again, so their page-cache pages are freed after.
   */
  async read(file: string, target: Uint8Array, offset: number, length: number, position: number, once = false): Promise<number> {
    const f = this.acquire(file);
    try {
      return await new Promise<number>((resolve, reject) => {
        read(f.fd, target, offset, length, position, (err, n) => {
          if (err) return reject(err);
          // still open here: the reader is released only after this resolves
          if (once) dropBehind(f.fd, position, n);
          resolve(n);
        });
      });
    } finally {
      this.release(f);
    }
  }

  /** The file at this path was removed or replaced: reads from here on open it again. */
  forget(file: string): void {
    const f = this.files.get(file);
    if (!f) return;
    this.files.delete(file);
    f.stale = true;
    if (f.readers === 0) closeSync(f.fd);
  }

  closeAll(): void {
    for (const file of [...this.files.keys()]) this.forget(file);
  }

  private acquire(file: string): OpenFile {
    let f = this.files.get(file);
    if (f) {
      this.files.delete(file); // re-inserted: most recently used last
    } else {
      f = { fd: openSync(file, 'r'), readers: 0, stale: false };
    }
    this.files.set(file, f);
    f.readers++;
    this.trim();
    return f;
  }

  private release(f: OpenFile): void {
    f.readers--;
    if (f.stale && f.readers === 0) closeSync(f.fd);
    else this.trim();
  }

  private trim(): void {
    if (this.files.size <= this.max) return;
    for (const [name, f] of this.files) {
      if (this.files.size <= this.max) break;
      if (f.readers === 0) {
        this.files.delete(name);
        closeSync(f.fd);
      }
    }
  }
}
