/**
 * Prune on a repository with many snapshots of a changing store: time and peak memory.
 *
 *   node dist/bench/pruneBench.js                       # 100 snapshots of a ~25 MiB store
 *   node dist/bench/pruneBench.js --snapshots 100 --files 3000 --dir /var/tmp/pb --keep
 *
 * Builds the store, backs up one version a day (each day rewrites ~3% of the files, adds and
 * deletes a few, and appends to an order log), forgets with 7 daily / 4 weekly / 6 monthly,
 * then runs prune in a child process so its peak RSS is its own. Standalone: it uses only the
 * engine (src/) and Node.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBackend } from '../src/storage/LocalBackend.js';
import { Repository } from '../src/repo/repository.js';
import { backup } from '../src/ops/backup.js';
import { forget } from '../src/ops/forget.js';
import { prune, type PruneResult } from '../src/ops/prune.js';

const PASSWORD = 'prune-bench';

interface Options {
  snapshots: number;
  files: number;
  dir: string;
  keep: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { snapshots: 100, files: 600, dir: '', keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--snapshots') o.snapshots = Number(argv[++i]);
    else if (a === '--files') o.files = Number(argv[++i]);
    else if (a === '--dir') o.dir = argv[++i]!;
    else if (a === '--keep') o.keep = true;
    else if (a === '--help') {
      console.log('usage: pruneBench [--snapshots N] [--files N] [--dir DIR] [--keep]');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** A file size like a shop's: mostly small code and text, some images, a few large downloads. */
function fileSize(i: number): number {
  if (i % 50 === 0) return 600_000 + (i % 7) * 100_000;
  if (i % 5 === 0) return 40_000 + (i % 13) * 9_000;
  return 1_000 + (i % 17) * 1_500;
}

/** Half random, half repeated text: compresses a little, like real stores. */
function content(size: number): Buffer {
  const half = Math.floor(size / 2);
  return Buffer.concat([randomBytes(half), Buffer.alloc(size - half, `<?php echo $product['name']; ?>\n`)]);
}

async function writeVersion(root: string, v: number, files: number): Promise<void> {
  const file = (i: number): string => path.join(root, `d${i % 20}`, `f${i}.dat`);
  if (v === 0) {
    for (let i = 0; i < 20; i++) await fsp.mkdir(path.join(root, `d${i}`), { recursive: true });
    for (let i = 0; i < files; i++) await fsp.writeFile(file(i), content(fileSize(i)));
    await fsp.writeFile(path.join(root, 'orders.log'), '');
    return;
  }
  const changed = Math.max(1, Math.floor(files * 0.03));
  for (let k = 0; k < changed; k++) {
    const i = (v * 7919 + k * 104729) % files;
    await fsp.writeFile(file(i), content(fileSize(i + v)));
  }
  await fsp.writeFile(path.join(root, 'd0', `new-${v}.dat`), content(30_000));
  if (v > 3) await fsp.rm(path.join(root, 'd0', `new-${v - 3}.dat`), { force: true });
  await fsp.appendFile(path.join(root, 'orders.log'), content(50_000));
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) n += await dirBytes(p);
    else if (e.isFile()) n += (await fsp.stat(p)).size;
  }
  return n;
}

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** Child mode: prune the repository and print time and peak RSS as JSON. */
async function pruneOnly(repoDir: string, cacheDir: string): Promise<void> {
  const started = process.hrtime.bigint();
  const repo = await Repository.open(new LocalBackend(repoDir), { password: PASSWORD, cacheDir });
  const opened = process.hrtime.bigint();
  let result: PruneResult;
  try {
    result = await prune(repo);
  } finally {
    await repo.close();
  }
  const done = process.hrtime.bigint();
  process.stdout.write(JSON.stringify({ openMs: Number(opened - started) / 1e6, pruneMs: Number(done - opened) / 1e6, maxRssKiB: process.resourceUsage().maxRSS, result }) + '\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--prune-only') return pruneOnly(argv[1]!, argv[2]!);
  const o = parseArgs(argv);
  const base = o.dir || (await fsp.mkdtemp(path.join(os.tmpdir(), 'ocvault-prune-bench-')));
  const store = path.join(base, 'store');
  const repoDir = path.join(base, 'repo');
  const cacheDir = path.join(base, 'cache');
  await fsp.mkdir(store, { recursive: true });
  try {
    const repo = await Repository.init(new LocalBackend(repoDir), { password: PASSWORD, cacheDir });
    const t0 = Date.now();
    const start = Date.UTC(2024, 0, 1, 3, 0);
    try {
      for (let v = 0; v < o.snapshots; v++) {
        await writeVersion(store, v, o.files);
        await backup(repo, { paths: [store], kind: v % 7 === 0 ? 'full' : 'incremental', tags: [], excludes: [], time: new Date(start + v * 86_400_000) });
        if ((v + 1) % 20 === 0) console.error(`  ${v + 1}/${o.snapshots} snapshots`);
      }
      const storeBytes = await dirBytes(store);
      console.error(`store ${mib(storeBytes)} in ${o.files + 1} files; ${o.snapshots} snapshots made in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const f = await forget(repo, { policy: { daily: 7, weekly: 4, monthly: 6 }, utc: true });
      console.error(`forget 7 daily, 4 weekly, 6 monthly: ${f.kept} kept, ${f.removed.length} removed`);
    } finally {
      await repo.close();
    }
    const before = await dirBytes(path.join(repoDir, 'data'));
    const self = fileURLToPath(import.meta.url);
    const child = spawnSync(process.execPath, [self, '--prune-only', repoDir, cacheDir], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (child.status !== 0) throw new Error(`prune child failed: ${child.stderr}`);
    const r = JSON.parse(child.stdout) as { openMs: number; pruneMs: number; maxRssKiB: number; result: PruneResult };
    const after = await dirBytes(path.join(repoDir, 'data'));
    const p = r.result;
    console.log(
      [
        `prune of ${p.snapshots} snapshots left of ${o.snapshots} (${p.packs.before} packs, ${mib(before)}):`,
        `  time            ${(r.pruneMs / 1000).toFixed(2)} s (plus ${(r.openMs / 1000).toFixed(2)} s to open the repository)`,
        `  peak RSS        ${(r.maxRssKiB / 1024).toFixed(0)} MiB (whole node process)`,
        `  blobs           ${p.blobs.used} used, ${p.blobs.unused} unused`,
        `  packs           ${p.packs.deleted} deleted, ${p.packs.repacked} repacked into ${p.packs.written}, ${p.packs.after} left`,
        `  freed           ${mib(p.bytes.freed)} (${mib(before)} → ${mib(after)} on disk), ${mib(p.bytes.repacked)} copied`,
      ].join('\n'),
    );
  } finally {
    if (!o.keep) await fsp.rm(base, { recursive: true, force: true });
    else console.error(`kept ${base}`);
  }
}

await main();
