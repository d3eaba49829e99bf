import { createRequire } from 'node:module';
import { OcvaultError } from '../errors/OcvaultError.js';

/**
 * BLAKE3, keyed (blob ids) and plain (object names). The native binding is ~10x faster than
 * the portable WASM build; the WASM build is the fallback where no prebuilt binary exists.
 * See native-notes.md for the figures.
 */
export interface Blake3 {
  readonly implementation: 'napi' | 'wasm';
  keyed(key: Uint8Array, data: Uint8Array): Buffer;
  plain(data: Uint8Array): Buffer;
  /** plain hash of parts taken back to back, without joining them */
  plainParts(parts: readonly Uint8Array[]): Buffer;
  /** an incremental plain hasher, for objects written piece by piece */
  plainHasher(): Promise<IncrementalHash>;
}

export interface IncrementalHash {
  update(data: Uint8Array): void;
  digest(): Buffer;
  /** starts over, as a new hasher (one per pack writer, not one per pack) */
  reset(): void;
}

let chosen: Blake3 | undefined;

/** The API both prebuilt binaries of @napi-rs/blake-hash export. */
interface NativeBlake {
  Blake3Hasher: {
    new (): { update(d: Uint8Array): unknown; digestBuffer(): Buffer; reset(): unknown };
    newKeyed(key: Buffer): { update(d: Uint8Array): unknown; digestBuffer(): Buffer; reset(): unknown };
  };
  blake3(d: Uint8Array): Buffer;
}

/**
 * The prebuilt binaries are depended on directly (as optional dependencies): the umbrella
 * package lists binaries for platforms the registry here does not serve, which `npm ci`
 * then refuses. Other platforms get the WASM build.
 */
const NATIVE_PACKAGES = ['@napi-rs/blake-hash-linux-x64-gnu', '@napi-rs/blake-hash-linux-x64-musl'];

async function loadNative(): Promise<Blake3> {
  const require = createRequire(import.meta.url);
  let mod: NativeBlake | undefined;
  for (const name of NATIVE_PACKAGES) {
    try {
      mod = require(name) as NativeBlake;
      break;
    } catch {
      // not installed, or not loadable on this system
    }
  }
  if (!mod) throw new Error('no native BLAKE3 binding');
  const native = mod;
  // One keyed hasher per key, reset for each use: making a hasher per call cost 10 us of a
  // 200-byte tree blob's 12, and 120 us of a 1 MiB chunk's 260 (native objects for the GC).
  const keyedByKey = new Map<string, ReturnType<NativeBlake['Blake3Hasher']['newKeyed']>>();
  const keyedHasher = (key: Uint8Array): ReturnType<NativeBlake['Blake3Hasher']['newKeyed']> => {
    const name = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
    let h = keyedByKey.get(name);
    if (!h) {
      h = native.Blake3Hasher.newKeyed(Buffer.from(key));
      keyedByKey.set(name, h);
    }
    return h;
  };
  return {
    implementation: 'napi',
    keyed(key, data) {
      const h = keyedHasher(key);
      h.reset();
      h.update(data);
      return h.digestBuffer();
    },
    plain(data) {
      return native.blake3(data);
    },
    plainParts(parts) {
      const h = new native.Blake3Hasher();
      for (const p of parts) h.update(p);
      return h.digestBuffer();
    },
    async plainHasher() {
      let h = new native.Blake3Hasher();
      return {
        update: (d) => void h.update(d),
        digest: () => h.digestBuffer(),
        reset: () => void (h = new native.Blake3Hasher()),
      };
    },
  };
}

async function loadWasm(): Promise<Blake3> {
  const { createBLAKE3 } = await import('hash-wasm');
  const plain = await createBLAKE3(256);
  const keyedByKey = new Map<string, Awaited<ReturnType<typeof createBLAKE3>>>();
  // hash-wasm needs the key at creation, which is async; repository keys are few, so the
  // keyed hasher for a key is created by prepareKey() before first use.
  const wasm: Blake3 & { prepareKey(key: Uint8Array): Promise<void> } = {
    implementation: 'wasm',
    keyed(key, data) {
      const h = keyedByKey.get(Buffer.from(key).toString('hex'));
      if (!h) throw new OcvaultError('UnsupportedFormat', 'internal: keyed BLAKE3 used before prepareKey');
      h.init();
      h.update(data);
      return Buffer.from(h.digest('binary'));
    },
    plain(data) {
      plain.init();
      plain.update(data);
      return Buffer.from(plain.digest('binary'));
    },
    plainParts(parts) {
      plain.init();
      for (const p of parts) plain.update(p);
      return Buffer.from(plain.digest('binary'));
    },
    async plainHasher() {
      const h = await createBLAKE3(256);
      h.init();
      return { update: (d) => void h.update(d), digest: () => Buffer.from(h.digest('binary')), reset: () => void h.init() };
    },
    async prepareKey(key) {
      const hex = Buffer.from(key).toString('hex');
      if (!keyedByKey.has(hex)) keyedByKey.set(hex, await createBLAKE3(256, key));
    },
  };
  return wasm;
}

/** Loads the fastest available implementation once per thread. OCVAULT_BLAKE3=wasm forces the fallback. */
export async function blake3(): Promise<Blake3> {
  if (chosen) return chosen;
  if (process.env.OCVAULT_BLAKE3 !== 'wasm') {
    try {
      chosen = await loadNative();
      return chosen;
    } catch {
      // fall through to the portable build
    }
  }
  chosen = await loadWasm();
  return chosen;
}

/** Makes a key usable with the chosen implementation (a no-op for the native one). */
export async function prepareHashKey(key: Uint8Array): Promise<void> {
  const h = await blake3();
  const withPrepare = h as Blake3 & { prepareKey?: (k: Uint8Array) => Promise<void> };
  if (withPrepare.prepareKey) await withPrepare.prepareKey(key);
}

/** The hex name of a stored object: the plain BLAKE3 of its bytes. */
export function objectName(h: Blake3, bytes: Uint8Array): string {
  return h.plain(bytes).toString('hex');
}
