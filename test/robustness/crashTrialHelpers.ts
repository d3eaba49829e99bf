/**
 * Helpers for the crash trials and the concurrency tests: a seeded random source (so a failing
 * trial can be replayed with OCVAULT_TRIAL_SEED), seeded file content, killing a real `ocvault`
 * process after a delay, and a look at what a killed run left in a local repository.
 */
import { createCipheriv, createHash, randomInt } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunResult, TestRepo } from '../helpers/cli.js';

/** How many trials of each kind: OCVAULT_TRIALS, else the normal-suite default. */
export function trialCount(normal: number): number {
  const v = process.env.OCVAULT_TRIALS;
  if (v === undefined || v === '') return normal;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`OCVAULT_TRIALS must be a whole number of at least 1, not ${JSON.stringify(v)}`);
  return n;
}

/** The seed of this run: OCVAULT_TRIAL_SEED to replay one, else a fresh one. */
export function trialSeed(): number {
  const v = process.env.OCVAULT_TRIAL_SEED;
  if (v === undefined || v === '') return randomInt(1, 2 ** 31);
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`OCVAULT_TRIAL_SEED must be a whole number, not ${JSON.stringify(v)}`);
  return n;
}

/** A small seeded generator (mulberry32): the same seed gives the same trials. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** in [0, 1) */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** a whole number in [lo, hi] */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** a number in [lo, hi) */
  between(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }
}

/** `size` pseudo-random bytes determined by `label` (AES-CTR keystream): incompressible, replayable. */
export function seededBytes(label: string, size: number): Buffer {
  const key = createHash('sha256').update(label).digest();
  return createCipheriv('aes-256-ctr', key, key.subarray(0, 16)).update(Buffer.alloc(size));
}

export async function writeSeededFile(file: string, label: string, size: number): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, seededBytes(label, size));
}

export interface KilledRun {
  /** the run's result (signal SIGKILL when it was killed) */
  result: RunResult;
  /** false when the run ended before the kill */
  killed: boolean;
  delayMs: number;
  /** about when the kill came, from the start */
  atMs: number;
  /** when the trigger held, from the start */
  triggeredAtMs?: number;
}

/**
 * Starts `ocvault ARGS` and kills it with SIGKILL `delayMs` after the start or, with `trigger`,
 * `delayMs` after `trigger()` first holds (polled every few ms: e.g. the lock shows, or the
 * k-th new pack), so that jitter in how long Node takes to start does not decide where the kill
 * lands. No kill if the run ends first.
 */
export async function killAfter(t: TestRepo, args: string[], delayMs: number, trigger?: () => Promise<boolean>): Promise<KilledRun> {
  const t0 = Date.now();
  const run = t.start(args);
  let ended = false;
  void run.done.then(() => (ended = true));
  let triggeredAtMs: number | undefined;
  if (trigger) {
    while (!ended && !(await trigger())) await sleep(4);
    if (!ended) triggeredAtMs = Date.now() - t0;
  }
  await Promise.race([sleep(delayMs), run.done]);
  if (!ended) run.child.kill('SIGKILL');
  const result = await run.done;
  return { result, killed: result.signal === 'SIGKILL', delayMs, atMs: Date.now() - t0, triggeredAtMs };
}

/** True once `dir` holds a file. */
export const fileIn = (dir: string) => async (): Promise<boolean> => existsSync(dir) && (await fsp.readdir(dir)).length > 0;

/** Names of the objects in data/ (all subfolders) or index/, cheaply: no stat, temporaries left out. */
async function names(repo: string, folder: 'data' | 'index'): Promise<string[]> {
  const root = path.join(repo, folder);
  const list = async (d: string): Promise<string[]> => (await fsp.readdir(d).catch(() => [] as string[])).filter((n) => !n.endsWith('.tmp'));
  if (folder === 'index') return list(root);
  return (await Promise.all((await list(root)).map((sub) => list(path.join(root, sub))))).flat();
}

/** True once the repository holds `k` packs, or index segments, that `before` did not. */
export const newObjects = (repo: string, before: RepoFiles, folder: 'data' | 'index', k: number) => async (): Promise<boolean> => {
  const old = folder === 'data' ? before.packs : before.index;
  let n = 0;
  for (const name of await names(repo, folder)) if (!old.has(name)) n++;
  return n >= k;
};

/** True once anything in data/ or index/ differs from `before` (a pack or segment added or removed). */
export const anyChange = (repo: string, before: RepoFiles) => async (): Promise<boolean> => {
  const same = (now: string[], old: Map<string, unknown> | Set<string>): boolean => now.length === old.size && now.every((k) => old.has(k));
  return !same(await names(repo, 'data'), before.packs) || !same(await names(repo, 'index'), before.index);
};

/** Regular files per folder of a local repository (temporaries left out). */
export interface RepoFiles {
  packs: Map<string, number>;
  index: Set<string>;
  snapshots: Set<string>;
  locks: Set<string>;
}

async function filesIn(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (!existsSync(dir)) return out;
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) for (const [k, v] of await filesIn(p)) out.set(k, v);
    else if (e.isFile() && !e.name.endsWith('.tmp')) out.set(e.name, (await fsp.stat(p)).size);
  }
  return out;
}

export async function repoFiles(repo: string): Promise<RepoFiles> {
  return {
    packs: await filesIn(path.join(repo, 'data')),
    index: new Set((await filesIn(path.join(repo, 'index'))).keys()),
    snapshots: new Set((await filesIn(path.join(repo, 'snapshots'))).keys()),
    locks: new Set((await filesIn(path.join(repo, 'locks'))).keys()),
  };
}

export function added<T>(before: Set<T> | Map<T, unknown>, after: Set<T> | Map<T, unknown>): T[] {
  return [...after.keys()].filter((k) => !before.has(k));
}

/**
 * How far a killed backup got, from what it left: the lock only, packs, an index segment, the
 * snapshot (lock not yet released), or everything (it ended before the kill).
 */
export function backupPhase(before: RepoFiles, after: RepoFiles, killed: boolean): string {
  if (!killed) return 'finished';
  if (added(before.snapshots, after.snapshots).length) return 'snapshot written, lock left';
  if (added(before.index, after.index).length) return 'index written';
  if (added(before.packs, after.packs).length) return 'packs written';
  if (after.locks.size) return 'locked, nothing stored';
  return 'starting';
}

/** How far a killed prune got: repacked packs, the new index, pack deletion, old index removal. */
export function prunePhase(before: RepoFiles, after: RepoFiles, killed: boolean): string {
  if (!killed) return 'finished';
  const goneIndex = [...before.index].filter((n) => !after.index.has(n)).length;
  const goneData = [...before.packs.keys()].filter((n) => !after.packs.has(n)).length;
  if (goneIndex) return 'old index being removed';
  if (goneData) return 'packs being deleted';
  if (added(before.index, after.index).length) return 'new index written';
  if (added(before.packs, after.packs).length) return 'repacking';
  if (after.locks.size) return 'locked, nothing changed';
  return 'starting';
}

/** Polls until `dir` holds a file, or the run ends; the time it took from `t0` (undefined if never). */
export async function timeUntilFile(dir: string, t0: number, done: () => boolean): Promise<number | undefined> {
  while (!done()) {
    if (existsSync(dir) && (await fsp.readdir(dir)).length > 0) return Date.now() - t0;
    await sleep(3);
  }
  return undefined;
}

/** Counts per phase, for the trial summary. */
export function tally(phases: string[]): string {
  const m = new Map<string, number>();
  for (const p of phases) m.set(p, (m.get(p) ?? 0) + 1);
  return [...m].map(([k, v]) => `${k}: ${v}`).join(', ');
}
