import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { localFileError } from '../storage/localFiles.js';
import { SequentialFile } from '../storage/directWrite.js';
import type { IncrementalHash } from './hash.js';
import type { Sealer } from './sealer.js';
import type { BlobId, BlobType } from './blobId.js';
import { encodePackHeader, type PackEntry } from './pack.js';
import { OcvaultError } from '../errors/OcvaultError.js';

/** A pack written whole into a staging file, waiting to be adopted by the store under `id`. */
export interface StagedPack {
  file: string;
  id: string;
  size: number;
  blobs: PackEntry[];
}

/** Packs a writer finishes in the background at most before `settle` waits. */
const PACKS_FINISHING = 1;
/** Staging buffers in flight per open pack before `settle` waits. */
const WRITES_IN_FLIGHT = 2;

/**
 * Writes packs straight into files of a local store's staging folder, from the thread that
 * sealed the blobs (a blob worker): no byte of a blob crosses to the main thread, which only
 * adopts finished packs (fsync, rename) and indexes them. Packs are written around the page
 * cache where the file system allows, in the thread pool while the worker seals on
 * (directWrite.ts): a backup writes each byte once and reads it back only in a later command,
 * and buffered writes were the workers' largest kernel cost. A finished pack goes to
 * `onPack` once all its bytes are written.
 */
export class PackFileWriter {
  private out: SequentialFile | undefined;
  private file = '';
  private entries: PackEntry[] = [];
  private bytes = 0;
  /** a failed write loses the pack's blobs, which other threads count as stored: no more writes */
  private failure: Error | undefined;
  /** packs whose last writes are in flight */
  private readonly finishing = new Set<Promise<void>>();

  constructor(
    private readonly dir: string,
    private readonly sealer: Sealer,
    private readonly hash: IncrementalHash,
    private readonly packSize: number,
    private readonly onPack: (pack: StagedPack) => void,
  ) {}

  private openFile(): void {
    // the local backend's temporary name pattern: a killed run's leftovers are removed as its are
    this.file = path.join(this.dir, `stage.${randomBytes(8).toString('hex')}.tmp`);
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      this.out = SequentialFile.open(this.file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600, (bytes) => this.hash.update(bytes));
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
      this.fail(this.file, e);
      void this.discard();
      throw this.failure;
    }
  }

  private fail(file: string, e: unknown): void {
    this.failure ??= e instanceof OcvaultError ? e : localFileError('write', file, e);
  }

  /** Adds a sealed blob; a pack it fills is finished in the background. */
  add(id: BlobId, type: BlobType, sealed: readonly Uint8Array[], rawLength: number): void {
    if (this.failure) throw this.failure;
    if (!this.out) this.openFile();
    const length = sealed.reduce((n, p) => n + p.byteLength, 0);
    this.write(sealed);
    this.entries.push({ id, type, offset: this.bytes, length, rawLength });
    this.bytes += length;
    if (this.bytes >= this.packSize) this.finishOpen();
  }

  /** Writes the open pack's header and hands the pack to `onPack` once its writes are done. */
  private finishOpen(): void {
    const out = this.out;
    if (!out) return;
    const header = encodePackHeader(this.entries, this.sealer);
    this.write([header]);
    // the file hashes its bytes as they go out: the last of them once the input ends
    try {
      out.endInput();
    } catch (e) {
      this.fail(this.file, e);
      void this.discard();
      throw this.failure;
    }
    const pack: StagedPack = { file: this.file, id: this.hash.digest().toString('hex'), size: this.bytes + header.length, blobs: this.entries };
    this.out = undefined;
    this.entries = [];
    this.track(
      out
        .finish()
        .then(() => out.close())
        .then(
          () => this.onPack(pack),
          async (e: unknown) => {
            this.fail(pack.file, e);
            await out.close().catch(() => undefined);
            fs.rmSync(pack.file, { force: true });
          },
        ),
    );
  }

  /** Waits while too many writes are in flight (memory stays bounded); throws a write's failure. */
  async settle(): Promise<void> {
    while (this.finishing.size > PACKS_FINISHING) await Promise.race(this.finishing);
    const out = this.out;
    if (out) {
      const file = this.file;
      try {
        await out.settle(WRITES_IN_FLIGHT);
      } catch (e) {
        this.fail(file, e);
        if (this.out === out) await this.discard();
      }
    }
    if (this.failure) throw this.failure;
  }

  /** Finishes the open pack and waits until every pack is written and handed on. */
  async finish(): Promise<void> {
    if (this.failure) throw this.failure;
    this.finishOpen();
    while (this.finishing.size) await Promise.all(this.finishing);
    if (this.failure) throw this.failure;
  }

  /**
   * Drops the open pack (after a failure) and waits until no write is in flight: its file is
   * removed. Nothing is added after (a task still running would open a pack nobody removes);
   * a second call (the main thread asking every worker) waits for the first one's.
   */
  async discard(): Promise<void> {
    this.failure ??= new OcvaultError('StorageError', 'the backup stopped: its unfinished packs were discarded');
    const out = this.out;
    if (out) {
      const file = this.file;
      this.out = undefined;
      this.entries = [];
      this.track(
        out
          .close()
          .catch(() => undefined) // closing a file that failed to write; nothing more to do
          .then(() => fs.rmSync(file, { force: true })),
      );
    }
    while (this.finishing.size) await Promise.allSettled([...this.finishing]);
  }

  /** Counts `work` among the packs being finished until it settles. */
  private track(work: Promise<void>): void {
    const tracked: Promise<void> = work.finally(() => this.finishing.delete(tracked));
    this.finishing.add(tracked);
  }
}
