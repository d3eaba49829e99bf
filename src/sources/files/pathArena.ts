const SLAB = 64 * 1024;
const SLASH = 0x2f;

/** A path kept in a PathArena: a number, not an object. */
export type PathRef = number;

/**
 * Paths kept for a whole restore, packed into slabs that hold nothing else and referred to by
 * number. Buffer.concat takes small buffers from Node's 8 KiB pool, whose slabs are shared with
 * short-lived buffers (names decoded from trees): the 24k paths of the bench tree pinned 1 500
 * slabs, 12 MiB for 2 MiB of paths. A Buffer view per path still cost ~96 bytes of heap each
 * (2.2 MiB of the bench restore's plan); a ref costs 12 bytes in three typed arrays, and a view
 * is made only while a path is used.
 */
export class PathArena {
  private readonly slabs: Buffer[] = [Buffer.allocUnsafeSlow(SLAB)];
  /** the slab short paths go to, and how much of it is taken */
  private current = 0;
  private used = 0;
  private count = 0;
  private slabOf = new Uint32Array(1024);
  private startOf = new Uint32Array(1024);
  private lengthOf = new Uint32Array(1024);

  /** Keeps `path` as it is (the restore's target). */
  add(path: Uint8Array): PathRef {
    return this.store(path.length, (out) => out.set(path, 0));
  }

  /** `dir` + '/' + `name`. */
  join(dir: PathRef, name: Uint8Array): PathRef {
    const parent = this.bytes(dir);
    return this.store(parent.length + 1 + name.length, (out) => {
      out.set(parent, 0);
      out[parent.length] = SLASH;
      out.set(name, parent.length + 1);
    });
  }

  /** A view of the path's bytes; valid as long as the arena. */
  bytes(ref: PathRef): Buffer {
    const start = this.startOf[ref]!;
    return this.slabs[this.slabOf[ref]!]!.subarray(start, start + this.lengthOf[ref]!);
  }

  private store(length: number, fill: (out: Buffer) => void): PathRef {
    let slab: number;
    let start: number;
    if (length > SLAB / 8) {
      // a long path gets a slab of its own; the current one stays open for short ones
      slab = this.slabs.length;
      start = 0;
      this.slabs.push(Buffer.allocUnsafeSlow(length));
    } else {
      if (this.used + length > SLAB) {
        this.current = this.slabs.length;
        this.slabs.push(Buffer.allocUnsafeSlow(SLAB));
        this.used = 0;
      }
      slab = this.current;
      start = this.used;
      this.used += length;
    }
    fill(this.slabs[slab]!.subarray(start, start + length));
    if (this.count === this.slabOf.length) this.grow();
    const ref = this.count++;
    this.slabOf[ref] = slab;
    this.startOf[ref] = start;
    this.lengthOf[ref] = length;
    return ref;
  }

  private grow(): void {
    const widen = (a: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> => {
      const b = new Uint32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.slabOf = widen(this.slabOf);
    this.startOf = widen(this.startOf);
    this.lengthOf = widen(this.lengthOf);
  }
}
