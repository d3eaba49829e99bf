/**
 * File-tree helpers for the benchmark: walking, disk usage, warming the page cache,
 * and a content manifest used to check that a restore is complete and exact.
 */
import { createHash } from 'node:crypto';
import { open, readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';

export interface FileEntry {
  rel: string;
  path: string;
  size: number;
}

/** All regular files under `root`, sorted by relative path ('/'-separated). */
export async function listFiles(root: string): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      const path = join(dir, e.name);
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path, rel);
      else if (e.isFile()) out.push({ rel, path, size: (await lstat(path)).size });
    }
  };
  await walk(root, '');
  out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return out;
}

export interface DiskUsage {
  files: number;
  /** Sum of file sizes. */
  apparentBytes: number;
  /** Allocated blocks (st_blocks × 512), directories included — what `du` reports. */
  diskBytes: number;
}

export async function diskUsage(root: string): Promise<DiskUsage> {
  const usage: DiskUsage = { files: 0, apparentBytes: 0, diskBytes: 0 };
  const walk = async (path: string): Promise<void> => {
    const st = await lstat(path);
    usage.diskBytes += st.blocks * 512;
    if (st.isDirectory()) {
      for (const name of await readdir(path)) await walk(join(path, name));
    } else {
      usage.files++;
      usage.apparentBytes += st.size;
    }
  };
  await walk(root).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  });
  return usage;
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Reads every byte of `files`, feeding each file to `onChunk` when given. */
async function readAll(path: string, onChunk?: (b: Buffer) => void): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      onChunk?.(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}

/** Reads the whole tree once so every tool starts on a warm page cache. */
export async function warmTree(root: string): Promise<void> {
  const files = await listFiles(root);
  await forEachLimit(files, 8, (f) => readAll(f.path));
}

export interface ManifestEntry {
  size: number;
  /** sha256 of the content, or '' when hashing was skipped. */
  hash: string;
}

export type Manifest = Map<string, ManifestEntry>;

export async function manifest(root: string, hash: boolean): Promise<Manifest> {
  const files = await listFiles(root);
  const m: Manifest = new Map();
  for (const f of files) m.set(f.rel, { size: f.size, hash: '' });
  if (hash) {
    await forEachLimit(files, 4, async (f) => {
      const h = createHash('sha256');
      await readAll(f.path, (b) => h.update(b));
      const entry = m.get(f.rel);
      if (entry) entry.hash = h.digest('hex');
    });
  }
  return m;
}

export interface VerifyResult {
  ok: boolean;
  expectedFiles: number;
  expectedBytes: number;
  files: number;
  bytes: number;
  missing: string[];
  extra: string[];
  sizeMismatch: string[];
  contentMismatch: string[];
  hashed: boolean;
}

/** Compares a restored tree to the source manifest: names, sizes and (if hashed) contents. */
export async function verifyTree(expected: Manifest, restoredRoot: string, hash: boolean): Promise<VerifyResult> {
  const actual = await manifest(restoredRoot, hash);
  const r: VerifyResult = {
    ok: true, expectedFiles: expected.size, expectedBytes: 0, files: actual.size, bytes: 0,
    missing: [], extra: [], sizeMismatch: [], contentMismatch: [], hashed: hash,
  };
  for (const [rel, e] of expected) {
    r.expectedBytes += e.size;
    const a = actual.get(rel);
    if (!a) r.missing.push(rel);
    else if (a.size !== e.size) r.sizeMismatch.push(rel);
    else if (hash && e.hash && a.hash !== e.hash) r.contentMismatch.push(rel);
  }
  for (const [rel, a] of actual) {
    r.bytes += a.size;
    if (!expected.has(rel)) r.extra.push(rel);
  }
  r.ok = r.missing.length + r.extra.length + r.sizeMismatch.length + r.contentMismatch.length === 0;
  return r;
}
