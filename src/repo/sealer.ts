import { createCipheriv, createDecipheriv, randomFillSync, type CipherGCMTypes } from 'node:crypto';
import { OcvaultError } from '../errors/OcvaultError.js';
import { nativeAead } from './nativeAead.js';

/** AEAD schemes a repository can use; 'none' only with an explicit --no-encryption. */
export type Cipher = 'aes-256-gcm' | 'chacha20-poly1305' | 'none';

export const CIPHERS: readonly Cipher[] = ['aes-256-gcm', 'chacha20-poly1305', 'none'];

const NONCE = 12;
const TAG = 16;

/**
 * Nonces are cut from a buffer of random bytes refilled every 341 nonces: one call into the
 * CSPRNG per blob cost 3.5 us, as much as sealing a small database chunk. Each slice is
 * copied out and used once.
 */
const NONCE_BATCH = 341 * NONCE;
let nonceBytes = Buffer.alloc(0);
let nonceAt = 0;

function freshNonce(): Buffer {
  if (nonceAt + NONCE > nonceBytes.length) {
    nonceBytes = randomFillSync(Buffer.allocUnsafeSlow(NONCE_BATCH));
    nonceAt = 0;
  }
  const nonce = Buffer.from(nonceBytes.subarray(nonceAt, nonceAt + NONCE));
  nonceAt += NONCE;
  return nonce;
}

/** Seals bytes as nonce || ciphertext || tag with a fresh random nonce; opens and authenticates. */
export interface Sealer {
  readonly cipher: Cipher;
  readonly overhead: number;
  seal(plain: Uint8Array): Buffer;
  /**
   * Seals parts taken back to back as one message, returning the sealed bytes as parts
   * (nonce, ciphertexts, tag) so large blobs are never copied into one buffer.
   */
  sealParts(parts: readonly Uint8Array[]): Buffer[];
  /** Throws CorruptObject naming `what` when authentication fails. */
  open(sealed: Uint8Array, what: string): Buffer;
  /**
   * As `sealParts`, but the parts may be encrypted where they lie (the caller gives them up):
   * without the fresh buffer per ciphertext that node:crypto makes. Nonce and tag are new.
   */
  sealInPlace(parts: readonly Uint8Array[]): Uint8Array[];
  /** As `open`, but the sealed bytes may be decrypted where they lie: the result may be a view of them. */
  openInPlace(sealed: Uint8Array, what: string): Buffer;
}

/** The addon's numbers for the two AEAD schemes. */
const NATIVE_CIPHER = { 'aes-256-gcm': 0, 'chacha20-poly1305': 1 } as const;

export function makeSealer(cipher: Cipher, key: Buffer): Sealer {
  if (cipher === 'none') {
    const view = (sealed: Uint8Array): Buffer => Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    return {
      cipher,
      overhead: 0,
      seal: view,
      // a copy: the parts may be a read buffer that the caller reuses
      sealParts: (parts) => [Buffer.concat(parts as Uint8Array[])],
      open: view,
      sealInPlace: (parts) => [...parts],
      openInPlace: view,
    };
  }
  // Node's typings list chacha20-poly1305 apart from the GCM names; both take the same options.
  if (key.length !== 32) throw new OcvaultError('CorruptObject', 'encryption key must be 32 bytes');
  const damaged = (what: string): OcvaultError => new OcvaultError('CorruptObject', `${what} is damaged or was written with another key (authentication failed)`, { what });
  const tooShort = (what: string): OcvaultError => new OcvaultError('CorruptObject', `${what} is damaged (too short to be sealed)`, { what });
  const sealer: Sealer = {
    cipher,
    overhead: NONCE + TAG,
    seal(plain) {
      const nonce = freshNonce();
      const c = createCipheriv(cipher as CipherGCMTypes, key, nonce, { authTagLength: TAG });
      const body = c.update(plain);
      const rest = c.final();
      return Buffer.concat([nonce, body, rest, c.getAuthTag()]);
    },
    sealParts(parts) {
      const nonce = freshNonce();
      const c = createCipheriv(cipher as CipherGCMTypes, key, nonce, { authTagLength: TAG });
      const out: Buffer[] = [nonce];
      for (const p of parts) {
        const body = c.update(p);
        if (body.length) out.push(body);
      }
      const rest = c.final();
      if (rest.length) out.push(rest);
      out.push(c.getAuthTag());
      return out;
    },
    open(sealed, what) {
      if (sealed.length < NONCE + TAG) throw tooShort(what);
      const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
      const d = createDecipheriv(cipher as CipherGCMTypes, key, buf.subarray(0, NONCE), { authTagLength: TAG });
      d.setAuthTag(buf.subarray(buf.length - TAG));
      try {
        const body = d.update(buf.subarray(NONCE, buf.length - TAG));
        const rest = d.final();
        return rest.length ? Buffer.concat([body, rest]) : body;
      } catch {
        throw damaged(what);
      }
    },
    // without the addon, in place is a wish the caller allows, not a promise: node:crypto's copies
    sealInPlace: (parts) => sealer.sealParts(parts),
    openInPlace: (sealed, what) => sealer.open(sealed, what),
  };
  const native = nativeAead();
  if (!native) return sealer;
  const id = NATIVE_CIPHER[cipher];
  const openInPlace = (sealed: Uint8Array, what: string): Buffer => {
    if (sealed.length < NONCE + TAG) throw tooShort(what);
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const body = buf.subarray(NONCE, buf.length - TAG);
    if (!native.open(id, key, buf.subarray(0, NONCE), body, buf.subarray(buf.length - TAG))) throw damaged(what);
    return body;
  };
  return {
    ...sealer,
    // a copy opened in place: node:crypto's decipher object and output buffer cost more than
    // the copy for small blobs (the trees an unchanged backup or a restore's plan reads, ~4 000
    // for the bench tree), and as much for large ones
    open(sealed, what) {
      const copy = Buffer.allocUnsafeSlow(sealed.length);
      copy.set(sealed);
      return openInPlace(copy, what);
    },
    sealInPlace(parts) {
      const nonce = freshNonce();
      const tag = Buffer.allocUnsafe(TAG);
      native.seal(id, key, nonce, parts, tag);
      return [nonce, ...parts, tag];
    },
    openInPlace,
  };
}
