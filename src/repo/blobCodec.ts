import { createRequire } from 'node:module';
import type { Compressor, Decompressor } from 'zstd-napi';
import { OcvaultError } from '../errors/OcvaultError.js';

type ZstdModule = typeof import('zstd-napi');
let zstdModule: ZstdModule | undefined;

/**
 * zstd-napi, loaded at first use rather than with this module (~20 ms here): opening a
 * repository has it loaded while scrypt derives the key, when the main thread is idle anyway.
 */
export function zstd(): ZstdModule {
  return (zstdModule ??= createRequire(import.meta.url)('zstd-napi') as ZstdModule);
}

/**
 * The plaintext inside a sealed blob: one flag byte (0 raw, 1 zstd) then the bytes. Blobs are
 * stored raw when compression saves less than 1/32 of their size (images, archives).
 */
const RAW = 0;
const ZSTD = 1;

/** Compresses a 16 KiB sample first, so incompressible chunks (images) cost little CPU. */
const SAMPLE = 16 * 1024;

/**
 * The sample is compressed at zstd 1, not lower: negative levels leave literals without entropy
 * coding, so text with few repeats but a small alphabet (the hex ids of a big table manifest:
 * 52 % at level 1) looked incompressible to a -1 probe and was stored raw. On random bytes level
 * 1 answers about as fast as -1 (12 vs 13 µs for 16 KiB), and level 3 takes 16.
 */
const PROBE_LEVEL = 1;

/**
 * One compressor per level and thread: the one-shot API makes and frees a context of about a
 * MiB per call, which costs more than compressing a small chunk.
 */
const compressors = new Map<number, Compressor>();

function compress(data: Uint8Array, level: number): Buffer {
  let c = compressors.get(level);
  if (!c) {
    c = new (zstd().Compressor)();
    c.setParameters({ compressionLevel: level });
    compressors.set(level, c);
  }
  return c.compress(data);
}

function worthCompressing(data: Uint8Array, level: number): boolean {
  // Up to two samples long, compressing the whole chunk costs at most what a probe that says
  // yes adds; most database row chunks (~16 KiB, always compressible) are that small.
  if (data.length <= 2 * SAMPLE) return true;
  // from the middle, away from file headers
  const at = (data.length - SAMPLE) >> 1;
  return compress(data.subarray(at, at + SAMPLE), Math.min(level, PROBE_LEVEL)).length < SAMPLE - SAMPLE / 32;
}

/**
 * The plaintext as parts (flag byte, payload): a raw payload is the caller's bytes, not a copy.
 * The flag byte is a buffer of its own each time (a sealer may encrypt the parts where they lie).
 * `raw`: the caller knows the bytes are compressed already (compressedFormats.ts).
 */
export function encodeBlobParts(data: Uint8Array, level: number, raw = false): Uint8Array[] {
  if (!raw && data.length >= 64 && worthCompressing(data, level)) {
    const z = compress(data, level);
    if (z.length < data.length - (data.length >> 5)) return [Uint8Array.of(ZSTD), z];
  }
  return [Uint8Array.of(RAW), data];
}

export function encodeBlobPlain(data: Uint8Array, level: number): Buffer {
  if (data.length >= 64 && worthCompressing(data, level)) {
    const z = compress(data, level);
    if (z.length < data.length - (data.length >> 5)) {
      const out = Buffer.allocUnsafe(z.length + 1);
      out[0] = ZSTD;
      z.copy(out, 1);
      return out;
    }
  }
  const out = Buffer.allocUnsafe(data.length + 1);
  out[0] = RAW;
  out.set(data, 1);
  return out;
}

let decompressor: Decompressor | undefined;

/**
 * zstd-napi's shared decompress() keeps one context for the process: a damaged frame without a
 * content size fails mid-stream and leaves it there, and every later call, on intact data too,
 * fails ("Operation not authorized at current processing stage"). A context that failed is
 * dropped instead.
 */
function unzstd(data: Buffer): Buffer {
  decompressor ??= new (zstd().Decompressor)();
  try {
    return decompressor.decompress(data);
  } catch (e) {
    decompressor = undefined;
    throw e;
  }
}

export function decodeBlobPlain(plain: Buffer, what: string): Buffer {
  if (plain.length === 0) throw new OcvaultError('CorruptObject', `${what} is empty`, { what });
  if (plain[0] === RAW) return plain.subarray(1);
  if (plain[0] === ZSTD) {
    try {
      return unzstd(plain.subarray(1));
    } catch {
      throw new OcvaultError('CorruptObject', `${what} does not decompress`, { what });
    }
  }
  throw new OcvaultError('CorruptObject', `${what} has an unknown encoding ${plain[0]}`, { what });
}
