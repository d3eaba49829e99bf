import { createCipheriv, createDecipheriv, randomFillSync, type CipherGCMTypes } from 'node:crypto';
import { OcvaultError } from '../errors/OcvaultError.js';

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
}

export function makeSealer(cipher: Cipher, key: Buffer): Sealer {
  if (cipher === 'none') {
    return {
      cipher,
      overhead: 0,
      seal: (plain) => Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength),
      // a copy: the parts may be a read buffer that the caller reuses
      sealParts: (parts) => [Buffer.concat(parts as Uint8Array[])],
      open: (sealed) => Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength),
    };
  }
  // Node's typings list chacha20-poly1305 apart from the GCM names; both take the same options.
  if (key.length !== 32) throw new OcvaultError('CorruptObject', 'encryption key must be 32 bytes');
  return {
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
      if (sealed.length < NONCE + TAG) throw new OcvaultError('CorruptObject', `${what} is damaged (too short to be sealed)`, { what });
      const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
      const d = createDecipheriv(cipher as CipherGCMTypes, key, buf.subarray(0, NONCE), { authTagLength: TAG });
      d.setAuthTag(buf.subarray(buf.length - TAG));
      try {
        const body = d.update(buf.subarray(NONCE, buf.length - TAG));
        const rest = d.final();
        return rest.length ? Buffer.concat([body, rest]) : body;
      } catch {
        throw new OcvaultError('CorruptObject', `${what} is damaged or was written with another key (authentication failed)`, { what });
      }
    },
  };
}
