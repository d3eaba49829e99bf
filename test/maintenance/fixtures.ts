/**
 * Shared set-up for the maintenance tests: a throwaway repository with small packs and chunks
 * (so a few MiB of data spread over several packs), a small store-like tree that changes from
 * version to version, and a backend wrapper that "crashes" at a chosen operation.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TestRepo } from '../helpers/cli.js';
import { hashTree } from '../helpers/tree.js';
import { LocalBackend } from '../../src/storage/LocalBackend.js';
import type { Backend, ObjectType } from '../../src/storage/Backend.js';
import { FaultBackend } from '../../src/storage/FaultBackend.js';
import { Repository } from '../../src/repo/repository.js';
import { backup } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';

export const SMALL = { packSize: 1024 * 1024, chunker: { min: 4096, avg: 16384, max: 65536 } };

/** A TestRepo (CLI-usable) whose repository was made with small packs and chunks. */
export async function smallRepo(): Promise<TestRepo> {
  const t = await TestRepo.create({ init: false });
  const repo = await Repository.init(new LocalBackend(t.repo), { password: t.password, cacheDir: t.cache, configOverrides: SMALL });
  await repo.close();
  return t;
}

/** Opens a TestRepo's repository in-process; `backend` replaces the plain local one (faults). */
export async function openRepo(t: TestRepo, opts: { cacheDir?: string; backend?: Backend } = {}): Promise<Repository> {
  return Repository.open(opts.backend ?? new LocalBackend(t.repo), { password: t.password, cacheDir: opts.cacheDir ?? t.cache });
}

/** A deterministic-size, random-content file. */
async function put(root: string, rel: string, size: number): Promise<void> {
  const abs = path.join(root, rel);
  await fsp.mkdir(path.dirname(abs), { recursive: true });
  await fsp.writeFile(abs, randomBytes(size));
}

/**
 * Version 0: ~1.8 MiB in ~40 files (code, images, a growing log-like file). Each next version
 * rewrites a few files, adds two, deletes one and appends to the big file — like a shop whose
 * catalogue and orders change every day.
 */
export async function writeVersion(root: string, v: number): Promise<void> {
  if (v === 0) {
    for (let i = 0; i < 30; i++) await put(root, `catalog/controller/c${i}.php`, 2000 + i * 1500);
    for (let i = 0; i < 8; i++) await put(root, `image/catalog/p${i}.jpg`, 40_000 + i * 9000);
    await put(root, 'system/storage/download/manual.pdf', 400_000);
    await fsp.writeFile(path.join(root, 'config.php'), "<?php define('DB_PREFIX', 'oc_');\n");
    await fsp.mkdir(path.join(root, 'image/cache'), { recursive: true });
    return;
  }
  for (let k = 0; k < 3; k++) await put(root, `catalog/controller/c${(v * 7 + k * 5) % 30}.php`, 3000 + v * 700 + k);
  await put(root, `image/catalog/p${v % 8}.jpg`, 60_000 + v * 1000);
  await put(root, `image/catalog/new-${v}-a.jpg`, 50_000 + v * 10);
  await put(root, `image/catalog/new-${v}-b.jpg`, 30_000 + v * 10);
  if (v > 1) await fsp.rm(path.join(root, `image/catalog/new-${v - 1}-b.jpg`), { force: true });
  await fsp.appendFile(path.join(root, 'system/storage/download/manual.pdf'), randomBytes(20_000));
}

export interface Version {
  id: string;
  time: string;
  /** rel path → sha256 of every file in the version */
  files: Map<string, string>;
}

/**
 * Backs up `count` versions of the tree into the repository, one day apart from `start`;
 * returns each snapshot with the content it must restore to.
 */
export async function backupVersions(t: TestRepo, root: string, count: number, start = Date.parse('2024-05-01T10:00:00Z')): Promise<Version[]> {
  const repo = await openRepo(t);
  const out: Version[] = [];
  try {
    for (let v = 0; v < count; v++) {
      await writeVersion(root, v);
      const time = new Date(start + v * 86_400_000);
      const r = await backup(repo, { paths: [root], kind: 'incremental', tags: [], excludes: [], time });
      out.push({ id: r.id, time: time.toISOString(), files: await hashTree(root) });
    }
  } finally {
    await repo.close();
  }
  return out;
}

/** Restores a snapshot in-process and returns its content hashes. */
export async function restoredFiles(repo: Repository, snapshot: string, target: string, includes: string[] = []): Promise<Map<string, string>> {
  await restore(repo, { snapshot, target, includes });
  return hashTree(target);
}

/** Every pack file in a local repository: id → absolute path. */
export async function packFiles(repoDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const sub of await fsp.readdir(path.join(repoDir, 'data'))) {
    for (const f of await fsp.readdir(path.join(repoDir, 'data', sub))) out.set(f, path.join(repoDir, 'data', sub, f));
  }
  return out;
}

export interface Fault {
  op: 'save' | 'remove';
  type: ObjectType;
  /** fail the nth matching call (1-based) */
  nth: number;
}

/** A local backend that throws at one chosen operation, like a process killed right there. */
export class FaultyBackend extends FaultBackend {
  constructor(root: string, fault: Fault) {
    super(new LocalBackend(root));
    this.inject({ op: fault.op, type: fault.type, skip: fault.nth - 1, error: () => new Error(`injected crash at ${fault.op} ${fault.type} #${fault.nth}`) });
  }

  get fired(): boolean {
    return this.failures > 0;
  }
}
