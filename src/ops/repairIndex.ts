import pLimit from 'p-limit';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { IndexSegment } from '../repo/indexSegment.js';
import type { Backend } from '../storage/Backend.js';

export interface RepairIndexResult {
  packs: number;
  blobs: number;
  damagedPacks: string[];
  segmentsWritten: number;
  segmentsRemoved: number;
}

/**
 * Rebuilds the index segments from the pack headers alone: writes new segments that
 * supersede every old one, then deletes the old ones (readers ignore superseded segments,
 * so an interruption between the two steps leaves a valid repository).
 */
export async function repairIndex(repo: Repository, onDamaged?: (pack: string, why: string) => void, storage: Backend = repo.backend): Promise<RepairIndexResult> {
  await repo.lockExclusive();
  // `storage` lists every segment, damaged ones too (the repository may have been opened past them).
  const old = (await storage.list('index')).map((o) => o.name);
  const packs = await repo.backend.list('data');
  const limit = pLimit(8);
  const damaged: string[] = [];
  const found = await Promise.all(
    packs.map((p) =>
      limit(async () => {
        try {
          return { id: p.name, size: p.size, blobs: await repo.readPackHeader(p.name, p.size) };
        } catch (e) {
          if (!(e instanceof OcvaultError)) throw e;
          damaged.push(p.name);
          onDamaged?.(p.name, e.message);
          return undefined;
        }
      }),
    ),
  );
  const good = found.filter((p): p is NonNullable<typeof p> => p !== undefined);
  const segments: IndexSegment[] = [];
  for (let i = 0; i < good.length || i === 0; i += 256) segments.push({ version: 1, supersedes: [], packs: good.slice(i, i + 256) });
  segments[0]!.supersedes = old;
  repo.index.clearBlobs();
  for (const seg of segments) await repo.saveIndexSegment(seg);
  for (const name of old) await storage.remove('index', name);
  return { packs: good.length, blobs: good.reduce((n, p) => n + p.blobs.length, 0), damagedPacks: damaged, segmentsWritten: segments.length, segmentsRemoved: old.length };
}
