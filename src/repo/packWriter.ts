import type { Backend, StagedObject } from '../storage/Backend.js';
import type { Blake3, IncrementalHash } from './hash.js';
import type { Sealer } from './sealer.js';
import type { BlobId, BlobType } from './blobId.js';
import { encodePackHeader, type PackEntry } from './pack.js';

export interface WrittenPack {
  id: string;
  size: number;
  blobs: PackEntry[];
}

/** Bytes a staged pack may have waiting to be written before `add` waits for the disk. */
const STAGE_BACKLOG = 8 * 1024 * 1024;

/** The pack being filled: in memory, or streamed into a staged object of the store. */
interface OpenPack {
  entries: PackEntry[];
  bytes: number;
  /** parts kept in memory (no staging) */
  parts: Uint8Array[];
  staged?: Promise<{ object: StagedObject; hash: IncrementalHash }>;
  /** writes to the staged object, in order */
  writing: Promise<void>;
  backlog: number;
}

/**
 * Gathers sealed blobs into packs of about `packSize` bytes and stores each finished pack
 * under the hash of its bytes. Where the backend can stage objects (a local directory), the
 * pack is written as it fills, so it never sits whole in memory; otherwise it is uploaded
 * whole. Either way at most `parallel` finished packs are being stored at once.
 */
export class PackWriter {
  private open: OpenPack | undefined;
  private readonly uploads = new Set<Promise<void>>();
  private failure: unknown;

  constructor(
    private readonly backend: Backend,
    private readonly sealer: Sealer,
    private readonly hasher: Blake3,
    private readonly packSize: number,
    private readonly onPack: (p: WrittenPack) => void,
    private readonly parallel = 2,
  ) {}

  /** Bytes in the open pack. */
  get buffered(): number {
    return this.open?.bytes ?? 0;
  }

  private start(): OpenPack {
    const pack: OpenPack = { entries: [], bytes: 0, parts: [], writing: Promise.resolve(), backlog: 0 };
    const stage = this.backend.stage;
    if (stage) {
      pack.staged = Promise.all([stage.call(this.backend), this.hasher.plainHasher()]).then(([object, hash]) => ({ object, hash }));
      pack.writing = pack.staged.then(() => undefined);
      // failures surface where `writing` is awaited; these keep them from being "unhandled"
      pack.staged.catch(() => undefined);
      pack.writing.catch(() => undefined);
    }
    return pack;
  }

  /** Adds a sealed blob, given whole or as parts written back to back. */
  async add(id: BlobId, type: BlobType, sealed: Uint8Array | readonly Uint8Array[], rawLength: number): Promise<void> {
    if (this.failure) throw this.failure;
    const pack = (this.open ??= this.start());
    const parts = sealed instanceof Uint8Array ? [sealed] : [...sealed];
    const length = parts.reduce((n, p) => n + p.byteLength, 0);
    pack.entries.push({ id, type, offset: pack.bytes, length, rawLength });
    pack.bytes += length;
    if (pack.staged) {
      const staged = pack.staged;
      pack.backlog += length;
      pack.writing = pack.writing.then(async () => {
        const { object, hash } = await staged;
        for (const p of parts) hash.update(p);
        await object.append(parts);
        pack.backlog -= length;
      });
      pack.writing.catch(() => undefined);
      if (pack.backlog > STAGE_BACKLOG) await pack.writing;
    } else {
      pack.parts.push(...parts);
    }
    if (pack.bytes >= this.packSize) await this.finishPack();
  }

  private async finishPack(): Promise<void> {
    const pack = this.open;
    this.open = undefined;
    if (!pack || pack.entries.length === 0) return;
    const header = encodePackHeader(pack.entries, this.sealer);
    const size = pack.bytes + header.length;
    const blobs = pack.entries;
    if (pack.staged) {
      const staged = pack.staged;
      // The commit (fsync, rename) runs behind the next pack's filling: waiting for it here
      // would stall the workers once per pack.
      await this.whileAtMost(this.parallel - 1);
      this.track(
        pack.writing.then(async () => {
          const { object, hash } = await staged;
          hash.update(header);
          await object.append([header]);
          const id = hash.digest().toString('hex');
          await object.commit('data', id);
          this.onPack({ id, size, blobs });
        }),
      );
      return;
    }
    const parts = [...pack.parts, header];
    const id = this.hasher.plainParts(parts).toString('hex');
    await this.whileAtMost(this.parallel - 1);
    this.track(this.backend.save('data', id, parts).then(() => this.onPack({ id, size, blobs })));
  }

  /** Waits until at most `n` packs are still being stored. */
  private async whileAtMost(n: number): Promise<void> {
    while (this.uploads.size > n) await Promise.race(this.uploads);
  }

  /** Keeps a pack's storing in `uploads` until it ends; its failure fails the next add or flush. */
  private track(storing: Promise<void>): void {
    const tracked: Promise<void> = storing
      .catch((e: unknown) => {
        this.failure ??= e;
      })
      .finally(() => this.uploads.delete(tracked));
    this.uploads.add(tracked);
  }

  /** Finishes the open pack and waits for every write; throws the first failure. */
  async flush(): Promise<void> {
    await this.finishPack();
    await Promise.all(this.uploads);
    if (this.failure) throw this.failure;
  }
}
