import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { localFileError } from '../storage/localFiles.js';
import { SequentialFile } from '../storage/directWrite.js';
import type { IncrementalHash } from './hash.js';
import type { Sealer } from './sealer.js';
import type { BlobId, BlobType } from './blobId.js';
import { encodePackHeader, type PackEntry } from './pack.js';

/** A pack written whole into a staging file, waiting to be adopted by the store under `id`. */
export interface StagedPack {
  file: string;
  id: string;
  size: number;
  blobs: PackEntry[];
}

/**
 * Writes packs straight into files of a local store's staging folder, synchronously, from the
 * thread that sealed the blobs (a blob worker): a sealed blob goes to the page cache while its
 * buffer is still young, and no byte of it crosses to the main thread. The main thread then
 * only adopts finished packs (fsync, rename) and indexes them. Packs are written around the
 * page cache where the file system allows (directWrite.ts): a backup writes each byte once and
 * reads it back only in a later command, and buffered writes were the workers' largest kernel
 * cost.
 */
export class PackFileWriter {
  private out: SequentialFile | undefined;
  private file = '';
  private entries: PackEntry[] = [];
  private bytes = 0;
  /** a failed write loses the pack's blobs, which other threads count as stored: no more writes */
  private failure: Error | undefined;

  constructor(
    private readonly dir: string,
    private readonly sealer: Sealer,
    private readonly hash: IncrementalHash,
    private readonly packSize: number,
  ) {}

  private openFile(): void {
    // the local backend's temporary name pattern: a killed run's leftovers are removed as its are
    this.file = path.join(this.dir, `stage.${randomBytes(8).toString('hex')}.tmp`);
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      this.out = SequentialFile.open(this.file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    } catch (e) {
      this.failure = localFileError('create', this.file, e);
      throw this.failure;
    }
    this.hash.reset();
    this.entries = [];
    this.bytes = 0;
  }

  private write(parts: readonly Uint8Array[]): void {
    try {
      this.out!.append(parts);
    } catch (e) {
      this.failure = localFileError('write', this.file, e);
      this.discard();
      throw this.failure;
    }
    for (const p of parts) this.hash.update(p);
  }

  /** Adds a sealed blob; returns the pack it completed, if it did. */
  add(id: BlobId, type: BlobType, sealed: readonly Uint8Array[], rawLength: number): StagedPack | undefined {
    if (this.failure) throw this.failure;
    if (!this.out) this.openFile();
    const length = sealed.reduce((n, p) => n + p.byteLength, 0);
    this.write(sealed);
    this.entries.push({ id, type, offset: this.bytes, length, rawLength });
    this.bytes += length;
    return this.bytes >= this.packSize ? this.finish() : undefined;
  }

  /** Writes the header and closes the pack; undefined when no pack is open. */
  finish(): StagedPack | undefined {
    const out = this.out;
    if (!out) return undefined;
    const header = encodePackHeader(this.entries, this.sealer);
    this.write([header]);
    try {
      out.finish();
      out.close();
    } catch (e) {
      this.failure = localFileError('write', this.file, e);
      this.discard();
      throw this.failure;
    }
    const pack: StagedPack = { file: this.file, id: this.hash.digest().toString('hex'), size: this.bytes + header.length, blobs: this.entries };
    this.out = undefined;
    this.entries = [];
    return pack;
  }

  /** Drops the open pack (after a failure): its file is removed. */
  discard(): void {
    if (!this.out) return;
    try {
      this.out.close();
    } catch {
      // closing a file that failed to write; nothing more to do
    }
    fs.rmSync(this.file, { force: true });
    this.out = undefined;
    this.entries = [];
  }
}
