import { LF } from './rowFormat.js';

/**
 * A table's row stream split into parts that load over separate connections at once. The
 * stream is stored as content-defined chunks cut anywhere, so parts are cut by chunk count
 * and then moved to line ends: part i begins after the first LF at or after the start of
 * its first chunk (part 0 at the very start) and ends with the first LF at or after the
 * start of the next part's first chunk. Both sides find the same LF, so every line lands in
 * exactly one part (a part can be empty when one line spans its chunks).
 */

/** Reads a table's row bytes starting at chunk `from`, in order. */
export type ChunkReader = (from: number) => AsyncIterable<Buffer>;

/** The chunk where part `i` of `parts` begins. */
export function partStart(chunks: number, i: number, parts: number): number {
  return Math.floor((chunks * i) / parts);
}

/** The lines of part `i` of `parts` of a stream stored as `chunks` chunks. */
export async function* rowPart(read: ChunkReader, chunks: number, i: number, parts: number): AsyncIterable<Buffer> {
  const from = partStart(chunks, i, parts);
  const next = i + 1 < parts ? partStart(chunks, i + 1, parts) : Infinity;
  let at = from;
  let skipping = i > 0;
  for await (const chunk of read(from)) {
    let b = chunk;
    if (skipping) {
      const lf = b.indexOf(LF);
      if (lf < 0) {
        at++;
        continue;
      }
      // this part's first LF is already the next part's: the part holds no line
      if (at >= next) return;
      b = b.subarray(lf + 1);
      skipping = false;
    }
    if (at >= next) {
      const lf = b.indexOf(LF);
      if (lf >= 0) {
        yield b.subarray(0, lf + 1);
        return;
      }
    }
    if (b.length > 0) yield b;
    at++;
  }
}
