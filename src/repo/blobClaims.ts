/**
 * Which new blobs some thread has taken on storing in this run, shared by every blob worker
 * (a SharedArrayBuffer), so a chunk two workers cut — one file stored twice, the same image in
 * two folders — goes into one pack, not one per worker. Before workers wrote their own packs
 * the main thread dropped the second copy; now nothing passes through one place.
 *
 * An open-addressed hash table of 128-bit id prefixes (a collision among the new blobs of one
 * run is as likely as one of a 128-bit hash). A slot is five Int32s: state, then the prefix.
 * Claiming a free slot takes it with compareExchange (empty → writing), fills in the prefix,
 * then publishes it (→ ready); a reader meeting a slot being written waits the few
 * instructions it takes. No slot is ever freed: the table lives for one run.
 */
const EMPTY = 0;
const WRITING = 1;
const READY = 2;
const SLOT = 5;
/** words before the first slot: [0] = slots taken */
const HEADER = 1;

export type ClaimResult = 'claimed' | 'taken' | 'full';

export class BlobClaims {
  private readonly table: Int32Array;
  private readonly mask: number;
  private readonly limit: number;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.table = new Int32Array(buffer);
    const slots = (this.table.length - HEADER) / SLOT;
    if (!Number.isInteger(slots) || slots < 2 || (slots & (slots - 1)) !== 0) throw new Error('claim table size must be a power of two slots');
    this.mask = slots - 1;
    // beyond half full probes grow long; callers then keep their own list instead
    this.limit = slots >>> 1;
  }

  /** A table with room for `slots` (a power of two) ids, half of them usable. */
  static create(slots: number): BlobClaims {
    return new BlobClaims(new SharedArrayBuffer((HEADER + slots * SLOT) * 4));
  }

  get count(): number {
    return Atomics.load(this.table, 0);
  }

  /**
   * Claims the blob whose raw id (32 bytes) is `id`: 'claimed' when the caller is the first,
   * 'taken' when another thread (or the caller before) claimed it, 'full' when the table has
   * no room left (the caller cannot tell; it must decide alone).
   */
  claim(id: Uint8Array): ClaimResult {
    const view = new DataView(id.buffer, id.byteOffset, 16);
    const w0 = view.getInt32(0, true);
    const w1 = view.getInt32(4, true);
    const w2 = view.getInt32(8, true);
    const w3 = view.getInt32(12, true);
    const t = this.table;
    for (let probe = 0, i = w0 & this.mask; probe <= this.mask; probe++, i = (i + 1) & this.mask) {
      const at = HEADER + i * SLOT;
      let state = Atomics.load(t, at);
      if (state === EMPTY) {
        if (Atomics.load(t, 0) >= this.limit) return 'full';
        state = Atomics.compareExchange(t, at, EMPTY, WRITING);
        if (state === EMPTY) {
          Atomics.store(t, at + 1, w0);
          Atomics.store(t, at + 2, w1);
          Atomics.store(t, at + 3, w2);
          Atomics.store(t, at + 4, w3);
          Atomics.store(t, at, READY);
          Atomics.add(t, 0, 1);
          return 'claimed';
        }
      }
      // another thread is filling this slot in: its prefix is a few stores away
      while (state === WRITING) state = Atomics.load(t, at);
      if (Atomics.load(t, at + 1) === w0 && Atomics.load(t, at + 2) === w1 && Atomics.load(t, at + 3) === w2 && Atomics.load(t, at + 4) === w3) return 'taken';
    }
    return 'full';
  }
}
