import type { Repository } from '../repo/repository.js';
import type { Backend } from '../storage/Backend.js';
import { openTolerant, type SkippedObject } from '../ops/tolerantOpen.js';
import { openBackend, readPassword, repoLocation, type GlobalOptions } from './context.js';

/**
 * Like withRepository, but opens a repository whose index segments or snapshot objects are
 * damaged (check and repair must work exactly then). `backend` lists every object, damaged too.
 */
export async function withTolerantRepository<T>(g: GlobalOptions, fn: (repo: Repository, backend: Backend, skipped: SkippedObject[]) => Promise<T>): Promise<T> {
  const raw = await openBackend(repoLocation(g));
  let opened: Awaited<ReturnType<typeof openTolerant>>;
  try {
    opened = await openTolerant(raw, { password: readPassword(g), cacheDir: g.cacheDir });
  } catch (e) {
    await raw.close().catch(() => undefined);
    throw e;
  }
  const { repo, backend, skipped } = opened;
  try {
    return await fn(repo, backend, skipped);
  } finally {
    await repo.close();
  }
}
