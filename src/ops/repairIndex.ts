import pLimit from 'p-limit';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { IndexSegment } from '../repo/indexSegment.js';
import type { Backend } from '../storage/Backend.js';
import { IndexView } from './indexView.js';

export interface RepairIndexResult {
  packs: number;
  blobs: number;
  damagedPacks: string[];
  /** damaged packs whose blobs stay indexed as a readable old segment listed them */
  keptFromOldIndex: string[];
  segmentsWritten: number;
  segmentsRemoved: number;
}

/**
 * Rebuilds the index segments from the pack headers: writes new segments that supersede every
 * old one, then deletes the old ones (readers ignore superseded segments, so an interruption
 * between the two steps leaves a valid repository). A pack whose header cannot be read (a few
 * bytes appended or cut off the end) keeps the entries a readable old segment has for it, when
 * they fit in the pack: dropping them would make its blobs, intact or not, unreachable, where
 * restore verifies every blob it reads anyway.
 */
export async function repairIndex(repo: Repository, onDamaged?: (pack: string, why: string, keptFromOldIndex: boolean) => void, storage: Backend = repo.backend): Promise<RepairIndexResult> {
  await repo.lockExclusive();
  // `storage` lists every segment, damaged ones too (the repository may have been opened past them).
  const old = (await storage.list('index')).map((o) => o.name);
  const packs = await repo.backend.list('data');
  const limit = pLimit(8);
  const damaged: { id: string; size: number; why: string }[] = [];
  const found = await Promise.all(
    packs.map((p) =>
      limit(async () => {
        try {
          return { id: p.name, size: p.size, blobs: await repo.readPackHeader(p.name, p.size) };
        } catch (e) {
          if (!(e instanceof OcvaultError)) throw e;
          damaged.push({ id: p.name, size: p.size, why: e.message });
          return undefined;
        }
      }),
    ),
  );
  const good = found.filter((p): p is NonNullable<typeof p> => p !== undefined);
  const kept: string[] = [];
  if (damaged.length > 0) {
    const view = await IndexView.load(repo, storage);
    for (const d of damaged) {
      const old = view.packs.get(d.id);
      const fits = old !== undefined && old.blobs.length > 0 && old.blobs.every((b) => b.offset + b.length <= d.size);
      if (fits) {
        good.push({ id: d.id, size: d.size, blobs: old.blobs });
        kept.push(d.id);
      }
      onDamaged?.(d.id, d.why, fits);
    }
  }
  const segments: IndexSegment[] = [];
  for (let i = 0; i < good.length || i === 0; i += 256) segments.push({ version: 1, supersedes: [], packs: good.slice(i, i + 256) });
  segments[0]!.supersedes = old;
  repo.clearIndexedBlobs();
  for (const seg of segments) await repo.saveIndexSegment(seg);
  for (const name of old) await storage.remove('index', name);
  return { packs: good.length, blobs: good.reduce((n, p) => n + p.blobs.length, 0), damagedPacks: damaged.map((d) => d.id), keptFromOldIndex: kept, segmentsWritten: segments.length, segmentsRemoved: old.length };
}
