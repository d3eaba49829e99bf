import { scrypt as scryptCb, randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { OcvaultError } from '../errors/OcvaultError.js';
import { makeSealer } from './sealer.js';
import { decodeMasterKey, encodeMasterKey, type MasterKey } from './masterKey.js';

/**
 * keys/<id>: one per password. The master key is sealed with AES-256-GCM under a key derived
 * from the password with scrypt. An unencrypted repository stores it with kdf "none".
 */
export interface KeyFile {
  version: 1;
  created: string;
  host: string;
  user: string;
  kdf: 'scrypt' | 'none';
  N: number;
  r: number;
  p: number;
  salt: string;
  /** base64 of the sealed master key (or, with kdf none, of the plain master key) */
  data: string;
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 32768, r: 8, p: 1 };

function scrypt(password: string, salt: Buffer, p: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password.normalize('NFC'), salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function createKeyFile(master: MasterKey, password: string | undefined, params: ScryptParams = DEFAULT_SCRYPT): Promise<KeyFile> {
  const base = { version: 1 as const, created: new Date().toISOString(), host: hostname(), user: safeUser() };
  if (password === undefined) {
    return { ...base, kdf: 'none', N: 0, r: 0, p: 0, salt: '', data: encodeMasterKey(master).toString('base64') };
  }
  const salt = randomBytes(32);
  const kek = await scrypt(password, salt, params);
  const sealed = makeSealer('aes-256-gcm', kek).seal(encodeMasterKey(master));
  return { ...base, kdf: 'scrypt', ...params, salt: salt.toString('base64'), data: sealed.toString('base64') };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

export function encodeKeyFile(k: KeyFile): Buffer {
  return Buffer.from(JSON.stringify(k, null, 1));
}

export function decodeKeyFile(bytes: Uint8Array, name: string): KeyFile {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new OcvaultError('CorruptObject', `key file keys/${name} is not valid JSON`, { name });
  }
  const k = v as Partial<KeyFile>;
  if (k.version !== 1 || (k.kdf !== 'scrypt' && k.kdf !== 'none') || typeof k.data !== 'string') {
    throw new OcvaultError('CorruptObject', `key file keys/${name} is malformed`, { name });
  }
  if (k.kdf === 'scrypt') {
    const okNum = (x: unknown, max: number): boolean => typeof x === 'number' && Number.isInteger(x) && x > 0 && x <= max;
    // Bounds keep a damaged or hostile key file from asking for gigabytes of memory.
    if (!okNum(k.N, 1 << 22) || !okNum(k.r, 64) || !okNum(k.p, 16) || typeof k.salt !== 'string') {
      throw new OcvaultError('CorruptObject', `key file keys/${name} has invalid scrypt parameters`, { name });
    }
  }
  return k as KeyFile;
}

/**
 * Opens a key file with a password; WrongPassword if it does not fit this key. `whileDeriving`
 * runs on this thread once scrypt is under way in the thread pool (synchronous work that
 * would otherwise wait its turn: the KDF leaves this thread idle for ~0.1 s).
 */
export async function unlockKeyFile(k: KeyFile, password: string | undefined, name: string, whileDeriving?: () => void): Promise<MasterKey> {
  if (k.kdf === 'none') return decodeMasterKey(Buffer.from(k.data, 'base64'));
  if (password === undefined) throw new OcvaultError('NoPassword', 'the repository is encrypted: give a password (OCVAULT_PASSWORD, OCVAULT_PASSWORD_FILE, --password-file or --password-command)');
  const deriving = scrypt(password, Buffer.from(k.salt, 'base64'), k);
  try {
    whileDeriving?.();
  } catch {
    // an optional head start, never a reason to fail the unlock
  }
  const kek = await deriving;
  let plain: Buffer;
  try {
    plain = makeSealer('aes-256-gcm', kek).open(Buffer.from(k.data, 'base64'), `key ${name}`);
  } catch {
    throw new OcvaultError('WrongPassword', 'wrong password (no key in the repository opens with it)', { key: name });
  }
  return decodeMasterKey(plain);
}
