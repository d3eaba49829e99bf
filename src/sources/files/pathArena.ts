const SLAB = 64 * 1024;
const SLASH = 0x2f;

/**
 * Paths kept for a whole restore, packed into slabs that hold nothing else. Buffer.concat takes
 * small buffers from Node's 8 KiB pool, whose slabs are shared with short-lived buffers (names
 * decoded from trees): the 24k paths of the bench tree pinned 1 500 slabs, 12 MiB for 2 MiB of
 * paths.
 */
export class PathArena {
  private slab = Buffer.allocUnsafeSlow(SLAB);
  private used = 0;

  /** `dir` + '/' + `name`. */
  join(dir: Uint8Array, name: Uint8Array): Buffer {
    const length = dir.length + 1 + name.length;
    if (length > SLAB / 8) return Buffer.concat([dir, Buffer.of(SLASH), name]);
    if (this.used + length > SLAB) {
      this.slab = Buffer.allocUnsafeSlow(SLAB);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + length);
    out.set(dir, 0);
    out[dir.length] = SLASH;
    out.set(name, dir.length + 1);
    this.used += length;
    return out;
  }
}
