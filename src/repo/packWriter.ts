import type { Backend } from '../storage/Backend.js';
import type { Blake3 } from './hash.js';
import type { Sealer } from './sealer.js';
import type { BlobId, BlobType } from './blobId.js';
import { encodePackHeader, type PackEntry } from './pack.js';

export interface WrittenPack {
  id: string;
  size: number;
  blobs: PackEntry[];
}

/**
 * Gathers sealed blobs into packs of about `packSize` bytes and stores each finished pack
 * under the hash of its bytes. Uploads run in the background, at most `parallel` at once.
 */
export class PackWriter {
  private parts: Uint8Array[] = [];
  private entries: PackEntry[] = [];
  private bytes = 0;
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

  /** Bytes waiting in the open pack. */
  get buffered(): number {
    return this.bytes;
  }

  /** Adds a sealed blob, given whole or as parts written back to back. */
  async add(id: BlobId, type: BlobType, sealed: Uint8Array | readonly Uint8Array[], rawLength: number): Promise<void> {
    if (this.failure) throw this.failure;
    const parts = sealed instanceof Uint8Array ? [sealed] : sealed;
    const length = parts.reduce((n, p) => n + p.byteLength, 0);
    this.entries.push({ id, type, offset: this.bytes, length, rawLength });
    for (const p of parts) this.parts.push(p);
    this.bytes += length;
    if (this.bytes >= this.packSize) await this.finishPack();
  }

  private async finishPack(): Promise<void> {
    if (this.entries.length === 0) return;
    const entries = this.entries;
    const parts = this.parts;
    this.entries = [];
    this.parts = [];
    this.bytes = 0;
    parts.push(encodePackHeader(entries, this.sealer));
    const size = parts.reduce((n, p) => n + p.length, 0);
    const id = this.hasher.plainParts(parts).toString('hex');
    while (this.uploads.size >= this.parallel) await Promise.race(this.uploads);
    const upload = this.backend
      .save('data', id, parts)
      .then(() => this.onPack({ id, size, blobs: entries }))
      .catch((e: unknown) => {
        this.failure ??= e;
      })
      .finally(() => this.uploads.delete(upload));
    this.uploads.add(upload);
  }

  /** Finishes the open pack and waits for every upload; throws the first upload failure. */
  async flush(): Promise<void> {
    await this.finishPack();
    await Promise.all(this.uploads);
    if (this.failure) throw this.failure;
  }
}
