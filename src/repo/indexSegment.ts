import { OcvaultError } from '../errors/OcvaultError.js';
import { isBlobId } from './blobId.js';
import type { PackEntry } from './pack.js';

/**
 * index/<id>: which blobs live in which pack. Written after its packs and before any snapshot
 * that needs them. `supersedes` names segments this one replaces (prune, repair), which
 * readers then ignore even if their deletion was interrupted.
 */
export interface IndexSegment {
  version: 1;
  supersedes: string[];
  packs: { id: string; size: number; blobs: PackEntry[] }[];
}

/** Compact JSON: per blob [id, type letter, offset, length, rawLength]. */
type WireBlob = [string, 'd' | 't', number, number, number];

export function encodeIndexSegment(seg: IndexSegment): Buffer {
  const wire = {
    version: 1,
    supersedes: seg.supersedes,
    packs: seg.packs.map((p) => ({
      id: p.id,
      size: p.size,
      blobs: p.blobs.map((b): WireBlob => [b.id, b.type === 'data' ? 'd' : 't', b.offset, b.length, b.rawLength]),
    })),
  };
  return Buffer.from(JSON.stringify(wire));
}

export function decodeIndexSegment(bytes: Uint8Array, name: string): IndexSegment {
  const bad = (why: string): OcvaultError => new OcvaultError('CorruptObject', `index segment index/${name} is malformed: ${why}`, { index: name });
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw bad('not JSON');
  }
  const o = v as { version?: unknown; supersedes?: unknown; packs?: unknown };
  if (o.version !== 1) throw bad('unknown version');
  if (!Array.isArray(o.supersedes) || !o.supersedes.every((s) => typeof s === 'string')) throw bad('supersedes');
  if (!Array.isArray(o.packs)) throw bad('packs');
  const packs = o.packs.map((p: { id?: unknown; size?: unknown; blobs?: unknown }) => {
    if (typeof p.id !== 'string' || typeof p.size !== 'number' || !Array.isArray(p.blobs)) throw bad('pack entry');
    const blobs = (p.blobs as unknown[]).map((w): PackEntry => {
      if (!Array.isArray(w) || w.length !== 5 || !isBlobId(w[0]) || (w[1] !== 'd' && w[1] !== 't') || !w.slice(2).every((n) => Number.isInteger(n) && n >= 0)) throw bad('blob entry');
      return { id: w[0], type: w[1] === 'd' ? 'data' : 'tree', offset: w[2] as number, length: w[3] as number, rawLength: w[4] as number };
    });
    return { id: p.id, size: p.size, blobs };
  });
  return { version: 1, supersedes: o.supersedes as string[], packs };
}
