import { nativeAddon } from '../storage/nativeAddon.js';

/**
 * ocvault's own small addon (native/aead, built on install): AES-256-GCM and
 * ChaCha20-Poly1305 through the OpenSSL that node links, over bytes where they lie. Node's
 * crypto returns each ciphertext in a fresh buffer, and on the VMs measured here that
 * allocation cost about twice the cipher: 1.2-1.3 s per GiB against 0.33-0.43 s in place
 * (128 KiB messages, one core). The output is the same bytes node:crypto gives.
 */
export interface NativeAead {
  /** Encrypts the parts in place, as one message; writes the 16-byte tag. */
  seal(cipher: number, key: Uint8Array, nonce: Uint8Array, parts: readonly Uint8Array[], tag: Uint8Array): void;
  /** Decrypts `bytes` in place; false when the tag does not authenticate them (then `bytes` hold garbage). */
  open(cipher: number, key: Uint8Array, nonce: Uint8Array, bytes: Uint8Array, tag: Uint8Array): boolean;
}

/**
 * The addon's AEAD, or undefined where it was not built (no compiler on install) or
 * `OCVAULT_NATIVE_AEAD=0` asks for node:crypto (see storage/nativeAddon.ts).
 */
export function nativeAead(): NativeAead | undefined {
  const addon = nativeAddon();
  return addon?.seal && addon.open ? (addon as NativeAead) : undefined;
}
