import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { BlobId } from '../repo/blobId.js';
import type { Snapshot } from '../repo/snapshot.js';
import { restore } from './restore.js';
import { compareWithTree } from './drillCompare.js';

/** One part of a drill: restoring and comparing the files, or the database. */
export interface DrillStep {
  name: 'files' | 'database';
  passed: boolean;
  /** set when the step did not run, and why */
  skipped?: string;
  /** entries (files, dirs, links; or tables) compared */
  checked: number;
  bytes: number;
  problems: string[];
  durationMs: number;
}

export interface DatabaseDrillContext {
  repo: Repository;
  snapshotId: string;
  snapshot: Snapshot;
  database: BlobId;
  /** the server given with --db, if any (a drill may also start a throwaway one) */
  url?: string;
}

/** The database part of a drill: restore into a temporary database, compare, drop it. */
export type DatabaseDrill = (ctx: DatabaseDrillContext) => Promise<DrillStep>;

export interface DrillOptions {
  /** 'latest' (default), an id or a prefix */
  snapshot?: string;
  /** where the temporary restore goes (default: the system temp directory) */
  tmpDir?: string;
  /** leave the restored files in place (for inspection) */
  keep?: boolean;
  databaseUrl?: string;
  databaseDrill?: DatabaseDrill;
  onProgress?: (step: DrillStep['name'], message: string) => void;
}

export interface DrillReport {
  snapshot: string;
  time: string;
  passed: boolean;
  /** false when a step was skipped: the drill proved less than a full restore */
  complete: boolean;
  target: string | null;
  steps: DrillStep[];
  durationMs: number;
}

/**
 * A restore drill: restores a snapshot's files into a temporary directory and compares every
 * entry with the snapshot's record (drillCompare), then runs the database drill when the
 * snapshot holds a database, and cleans up. A failing restore is a failed drill, not an error.
 */
export async function restoreDrill(repo: Repository, opts: DrillOptions = {}): Promise<DrillReport> {
  const started = Date.now();
  const { id, snapshot } = repo.resolveSnapshot(opts.snapshot ?? 'latest');
  await repo.lockShared();
  const steps: DrillStep[] = [];
  let target: string | null = null;

  if (snapshot.tree) {
    const t0 = Date.now();
    const step: DrillStep = { name: 'files', passed: false, checked: 0, bytes: 0, problems: [], durationMs: 0 };
    target = await fsp.mkdtemp(path.join(opts.tmpDir ?? os.tmpdir(), 'ocvault-drill-'));
    try {
      opts.onProgress?.('files', `restoring snapshot ${id.slice(0, 8)} into ${target}`);
      await restore(repo, { snapshot: id, target, includes: [] });
      opts.onProgress?.('files', 'comparing with the snapshot');
      const cmp = await compareWithTree(repo, snapshot.tree, target, { owners: process.getuid?.() === 0 });
      step.checked = cmp.checked;
      step.bytes = cmp.bytes;
      step.problems = cmp.problems;
      step.passed = cmp.problems.length === 0;
    } catch (e) {
      step.problems.push(`restore failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      if (!opts.keep) await removeAll(target);
      step.durationMs = Date.now() - t0;
    }
    steps.push(step);
  }

  if (snapshot.database) {
    if (opts.databaseDrill) {
      opts.onProgress?.('database', 'restoring the database into a temporary one');
      steps.push(await opts.databaseDrill({ repo, snapshotId: id, snapshot, database: snapshot.database, url: opts.databaseUrl }));
    } else {
      steps.push({ name: 'database', passed: true, skipped: 'this build has no database drill yet', checked: 0, bytes: 0, problems: [], durationMs: 0 });
    }
  }
  if (steps.length === 0) throw new OcvaultError('Usage', `snapshot ${id.slice(0, 8)} holds neither files nor a database`);

  return {
    snapshot: id,
    time: snapshot.time,
    passed: steps.every((s) => s.passed),
    complete: steps.every((s) => !s.skipped),
    target: opts.keep ? target : null,
    steps,
    durationMs: Date.now() - started,
  };
}

/** rm -rf that also clears restored read-only directories (0555) when not root. */
async function removeAll(dir: string): Promise<void> {
  try {
    await fsp.rm(dir, { recursive: true, force: true });
    return;
  } catch {
    // a read-only directory inside: make directories writable, then retry
  }
  const open = async (d: string): Promise<void> => {
    await fsp.chmod(d, 0o700).catch(() => undefined);
    for (const e of await fsp.readdir(d, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await open(path.join(d, e.name));
  };
  await open(dir);
  await fsp.rm(dir, { recursive: true, force: true });
}
