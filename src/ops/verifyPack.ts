import pLimit from 'p-limit';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { Backend } from '../storage/Backend.js';
import type { BlobId } from '../repo/blobId.js';
import { decodePackHeader } from '../repo/pack.js';
import type { IndexedPack } from './indexView.js';

export interface PackVerdict {
  pack: string;
  bytes: number;
  /** problems of the pack as a whole (name, header) */
  problems: string[];
  /** blobs that do not open or do not match their id */
  damagedBlobs: Map<BlobId, string>;
}

/**
 * Reads a whole pack and verifies it: its hash is its name, its header agrees with the index,
 * and every indexed blob decrypts, decompresses and hashes to its id.
 */
export async function verifyPack(repo: Repository, backend: Backend, pack: IndexedPack): Promise<PackVerdict> {
  const verdict: PackVerdict = { pack: pack.id, bytes: 0, problems: [], damagedBlobs: new Map() };
  let bytes: Buffer;
  try {
    // read once: a check of the whole repository leaves the page cache to the store (dropBehind.ts)
    bytes = await backend.load('data', pack.id, undefined, { once: true });
  } catch (e) {
    if (!(e instanceof OcvaultError)) throw e;
    verdict.problems.push(e.code === 'ObjectNotFound' ? 'pack is missing' : e.message);
    for (const b of pack.blobs) verdict.damagedBlobs.set(b.id, 'pack is missing');
    return verdict;
  }
  verdict.bytes = bytes.length;
  if (repo.hasher.plain(bytes).toString('hex') !== pack.id) verdict.problems.push('pack content does not match its name (damaged)');
  try {
    const header = decodePackHeader(bytes, bytes.length, repo.sealer, pack.id);
    if (!Array.isArray(header)) verdict.problems.push('pack header length is malformed');
    else {
      const inHeader = new Map(header.map((h) => [`${h.id}@${h.offset}`, h]));
      const differ = pack.blobs.filter((b) => {
        const h = inHeader.get(`${b.id}@${b.offset}`);
        return !h || h.length !== b.length || h.type !== b.type || h.rawLength !== b.rawLength;
      });
      if (differ.length > 0) verdict.problems.push(`pack header does not list ${differ.length} blob(s) the index places in it`);
    }
  } catch (e) {
    if (!(e instanceof OcvaultError)) throw e;
    verdict.problems.push(`pack header unreadable: ${e.message}`);
  }
  const limit = pLimit(8);
  await Promise.all(
    pack.blobs.map((b) =>
      limit(async () => {
        if (b.offset + b.length > bytes.length) {
          verdict.damagedBlobs.set(b.id, 'lies beyond the end of the pack');
          return;
        }
        try {
          await repo.openBlobAnywhere(b.id, bytes.subarray(b.offset, b.offset + b.length), `blob ${b.id.slice(0, 12)}`);
        } catch (e) {
          if (!(e instanceof OcvaultError)) throw e;
          verdict.damagedBlobs.set(b.id, e.message);
        }
      }),
    ),
  );
  return verdict;
}

/** Which packs a `--read-data-subset` reads. */
export type ReadDataSubset = { all: true } | { n: number; m: number } | { percent: number };

/** Parses `N/M` (1 ≤ N ≤ M) or `P%`. */
export function parseReadDataSubset(text: string): ReadDataSubset {
  const frac = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (frac) {
    const n = Number(frac[1]);
    const m = Number(frac[2]);
    if (m < 1 || n < 1 || n > m) throw new OcvaultError('Usage', `invalid --read-data-subset ${text}: N/M needs 1 <= N <= M`);
    return { n, m };
  }
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(text.trim());
  if (pct && Number(pct[1]) > 0 && Number(pct[1]) <= 100) return { percent: Number(pct[1]) };
  throw new OcvaultError('Usage', `invalid --read-data-subset ${JSON.stringify(text)}: use N/M (e.g. 2/7) or a percentage (e.g. 10%)`);
}

export function describeSubset(s: ReadDataSubset): string {
  return 'all' in s ? 'all' : 'percent' in s ? `${s.percent}%` : `${s.n}/${s.m}`;
}

/**
 * The packs of a subset. N/M is stable: a pack belongs to part (first byte of its id mod M) + 1,
 * so running 1/M, 2/M, ... M/M on successive days reads every pack once. A percentage picks
 * packs at random (at least one).
 */
export function selectPacks<T extends { id: string }>(packs: readonly T[], s: ReadDataSubset, random: () => number = Math.random): T[] {
  if ('all' in s) return [...packs];
  if ('n' in s) return packs.filter((p) => (parseInt(p.id.slice(0, 2), 16) % s.m) + 1 === s.n);
  const want = Math.min(packs.length, Math.max(1, Math.ceil((packs.length * s.percent) / 100)));
  const pool = [...packs];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, packs.length === 0 ? 0 : want);
}
