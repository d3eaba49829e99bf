import { randomBytes } from 'node:crypto';
import { OcvaultError } from '../errors/OcvaultError.js';

/** The secrets of a repository: one for sealing, one for blob ids, one seeding the chunker. */
export interface MasterKey {
  encryption: Buffer;
  id: Buffer;
  chunker: Buffer;
}

export function newMasterKey(): MasterKey {
  return { encryption: randomBytes(32), id: randomBytes(32), chunker: randomBytes(32) };
}

export function encodeMasterKey(k: MasterKey): Buffer {
  return Buffer.from(JSON.stringify({ encryption: k.encryption.toString('base64'), id: k.id.toString('base64'), chunker: k.chunker.toString('base64') }));
}

export function decodeMasterKey(bytes: Uint8Array): MasterKey {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new OcvaultError('CorruptObject', 'master key is not valid JSON');
  }
  const o = v as Record<string, unknown>;
  const field = (name: string): Buffer => {
    const s = o[name];
    if (typeof s !== 'string') throw new OcvaultError('CorruptObject', `master key lacks ${name}`);
    const b = Buffer.from(s, 'base64');
    if (b.length !== 32) throw new OcvaultError('CorruptObject', `master key ${name} has the wrong length`);
    return b;
  };
  return { encryption: field('encryption'), id: field('id'), chunker: field('chunker') };
}
