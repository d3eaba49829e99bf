import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TemplateCopies, TestRepo, expectCode, parseJson, type BackupResult } from '../helpers/cli.js';
import { hashTree, removeTree } from '../helpers/tree.js';
import { smallRepo, writeVersion } from '../maintenance/fixtures.js';
import type { CheckReport } from '../../src/ops/check.js';
import type { PruneResult } from '../../src/ops/prune.js';
import { Rng, added, anyChange, backupPhase, fileIn, killAfter, newObjects, prunePhase, repoFiles, tally, timeUntilFile, trialCount, trialSeed, writeSeededFile } from './crashTrialHelpers.js';

/**
 * "Nothing is lost", tried the hard way: `ocvault backup` and `ocvault prune` killed with SIGKILL
 * at random moments (drawn from the span of an uninterrupted run, so kills land while it takes
 * the lock, chunks, uploads packs, writes the index, the snapshot, and releases the lock).
 * After every kill: `check --read-data` is clean, every snapshot restores byte for byte, and the
 * next run finishes the job, reusing what the killed one stored.
 *
 * OCVAULT_TRIALS=N runs N trials of each kind (default: a few for the normal suite);
 * OCVAULT_TRIAL_SEED=S replays a run (the seed is printed at the start and in every failure).
 */
const SEED = trialSeed();
const BACKUP_TRIALS = trialCount(10);
const PRUNE_TRIALS = trialCount(8);
/** backup trials per repository, so the number of snapshots to restore stays small */
const PER_REPO = 3;
const KiB = 1024;
const NEW_PER_TRIAL = 3 * 1024 * KiB;

const replay = (n: number): string => `replay with OCVAULT_TRIAL_SEED=${SEED} OCVAULT_TRIALS=${n}`;
console.log(`crash trials: seed ${SEED} (${replay(Math.max(BACKUP_TRIALS, PRUNE_TRIALS))})`);

/** Runs `fn`, prefixing any failure with what trial it was, so it can be replayed. */
async function within<T>(label: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof Error) e.message = `${label}: ${e.message}`;
    throw e;
  }
}

/** `check --read-data --json` must pass: no error, no damage. */
async function assertCheckClean(t: TestRepo, env: Record<string, string> = {}): Promise<CheckReport> {
  const r = await t.run(['check', '--read-data', '--json'], { env });
  expectCode(r, 0);
  const report = parseJson<CheckReport>(r);
  assert.deepEqual(report.errors, [], 'check --read-data finds no error');
  assert.deepEqual(report.damage, [], 'check --read-data finds no damage');
  return report;
}

/** Restores each snapshot (two at a time) and compares the content with what it must be. */
async function assertRestores(t: TestRepo, expected: Map<string, Map<string, string>>, env: Record<string, string> = {}): Promise<void> {
  const ids = [...expected.keys()];
  const one = async (id: string): Promise<void> => {
    const target = t.path(`restore-${id.slice(0, 12)}-${Date.now()}`);
    expectCode(await t.run(['restore', id, '--target', target], { env }), 0);
    assert.deepEqual(await hashTree(target), expected.get(id), `snapshot ${id.slice(0, 8)} restores byte for byte`);
    await removeTree(target);
  };
  for (let i = 0; i < ids.length; i += 2) await Promise.all(ids.slice(i, i + 2).map(one));
}

async function treeBytes(root: string): Promise<number> {
  let n = 0;
  for (const e of await fsp.readdir(root, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += (await fsp.stat(path.join(e.parentPath, e.name))).size;
  }
  return n;
}

interface KillPoint {
  /** what the delay counts from, for messages */
  from: string;
  delay: number;
  trigger?: () => Promise<boolean>;
}

/**
 * Where to kill a run: one time in ten at random during start-up (before the lock); otherwise
 * at a random moment after the lock shows (up to a little past the end of an uninterrupted run),
 * or a few milliseconds after a chosen event (`events`: the k-th new pack, the first change...),
 * so that the short steps (index, snapshot, lock release) are hit too.
 */
function chooseKill(rng: Rng, lockDir: string, lockedAt: number, duration: number, events: { from: string; trigger: () => Promise<boolean>; jitterMs: number }[]): KillPoint {
  const r = rng.next();
  if (r < 0.1) return { from: 'the start', delay: Math.round(rng.between(0, lockedAt * 1.1)) };
  if (r < 0.45 || events.length === 0) return { from: 'the lock', delay: Math.round(rng.between(0, Math.max(50, duration - lockedAt) * 1.1)), trigger: fileIn(lockDir) };
  const e = events[rng.int(0, events.length - 1)]!;
  return { from: e.from, delay: Math.round(rng.between(0, e.jitterMs)), trigger: e.trigger };
}

const sum = (m: Map<string, number>, names: string[]): number => names.reduce((s, n) => s + (m.get(n) ?? 0), 0);

describe('backup killed with SIGKILL at random points', () => {
  const repos: TestRepo[] = [];
  after(async () => {
    for (const t of repos) await t.cleanup();
  });

  test(`${BACKUP_TRIALS} trials (seed ${SEED})`, { timeout: BACKUP_TRIALS * 40_000 + 60_000 }, async (ctx) => {
    const rng = new Rng(SEED);
    const phases: string[] = [];
    let trial = 0;
    for (let series = 0; trial < BACKUP_TRIALS; series++) {
      const t = await smallRepo();
      repos.push(t);
      const src = t.path('src');
      const label = (k: string): string => `${SEED}/${series}/${k}`;
      for (let i = 0; i < 6; i++) await writeSeededFile(path.join(src, 'image', `base-${i}.jpg`), label(`base-${i}`), 1024 * KiB);
      for (let i = 0; i < 20; i++) await writeSeededFile(path.join(src, 'catalog', `c${i}.php`), label(`php-${i}`), 2 * KiB + i * 300);

      // an uninterrupted run first: when it takes the lock, how long it lasts
      const t0 = Date.now();
      const first = t.start(['backup', src, '--json']);
      let ended = false;
      void first.done.then(() => (ended = true));
      const lockedAt = (await timeUntilFile(path.join(t.repo, 'locks'), t0, () => ended)) ?? 0;
      const firstRun = expectCode(await first.done, 0);
      const duration = Date.now() - t0;
      const expected = new Map<string, Map<string, string>>([[parseJson<BackupResult>(firstRun).id, await hashTree(src)]]);
      ctx.diagnostic(`repository ${series}: an uninterrupted backup locks after ${lockedAt} ms and ends after ${duration} ms`);

      for (let k = 0; k < PER_REPO && trial < BACKUP_TRIALS; k++, trial++) {
        // the store changes: a new image, a rewritten file, one gone
        await writeSeededFile(path.join(src, 'image', `new-${k}.jpg`), label(`new-${k}`), NEW_PER_TRIAL);
        await writeSeededFile(path.join(src, 'catalog', `c${k}.php`), label(`php-${k}-v${trial}`), 3 * KiB);
        await fsp.rm(path.join(src, 'catalog', `c${19 - k}.php`));
        const want = await hashTree(src);
        const total = await treeBytes(src);

        const before = await repoFiles(t.repo);
        // the new data fills 3 to 4 packs of 1 MiB, then come the tree pack, index and snapshot
        const packEvents = [1, 2, 3, 4].map((n) => ({ from: `new pack ${n}`, trigger: newObjects(t.repo, before, 'data', n), jitterMs: 60 }));
        const kill = chooseKill(rng, path.join(t.repo, 'locks'), lockedAt, duration, packEvents);
        const run = await killAfter(t, ['backup', src, '--json'], kill.delay, kill.trigger);
        const afterKill = await repoFiles(t.repo);
        const phase = backupPhase(before, afterKill, run.killed);
        phases.push(phase);
        const when = `${kill.delay} ms after ${kill.from}, at ${run.atMs} ms`;
        await within(`backup trial ${trial} (repository ${series}, killed ${when}: ${phase}; ${replay(BACKUP_TRIALS)})`, async () => {
          if (!run.killed) expectCode(run.result, 0);
          for (const id of added(before.snapshots, afterKill.snapshots)) expected.set(id, want);

          const report = await assertCheckClean(t);
          assert.equal(report.snapshots, expected.size, 'every snapshot is there, and no half one');
          await assertRestores(t, expected);

          // the next backup completes and stores only what the killed one had not
          const next = await t.backup([src]);
          const stored = sum(afterKill.packs, added(before.packs, afterKill.packs));
          const newBytes = NEW_PER_TRIAL + 3 * KiB;
          assert.ok(
            next.stats.addedBytes <= Math.max(0, newBytes - 0.9 * stored) + 256 * KiB,
            `the next backup added ${next.stats.addedBytes} bytes; the change was ${newBytes} bytes, of which the killed run had stored ${stored} in packs`,
          );
          // (total / 2, not / 3: in the first trial of a repository the change alone is a third of
          // the tree, and a run killed before storing anything left all of it to this backup)
          assert.ok(next.stats.addedBytes < total / 2, `the next backup added ${next.stats.addedBytes} of ${total} bytes: it must reuse what is stored`);
          assert.equal(next.stats.files, want.size);
          expected.set(next.id, want);
        });
      }
      await within(`repository ${series} at the end (${replay(BACKUP_TRIALS)})`, () => assertRestores(t, new Map([...expected].slice(-1))));
      await t.cleanup();
    }
    const summary = `${BACKUP_TRIALS} backup trials, seed ${SEED}; killed while ${tally(phases)}`;
    ctx.diagnostic(summary);
    console.log(summary);
  });
});

describe('prune killed with SIGKILL at random points', () => {
  let template: TestRepo;
  const kept: { id: string; files: Map<string, string> }[] = [];
  const copies = new TemplateCopies(() => template);
  after(() => copies.cleanup());
  const copy = (): Promise<TestRepo> => copies.copy();

  test(`${PRUNE_TRIALS} trials (seed ${SEED})`, { timeout: PRUNE_TRIALS * 40_000 + 90_000 }, async (ctx) => {
    const rng = new Rng(SEED ^ 0x5bd1e995);
    // five daily versions of a store; the three oldest forgotten (not yet pruned)
    template = await smallRepo();
    const shop = template.path('shop');
    const versions: { id: string; files: Map<string, string> }[] = [];
    for (let v = 0; v < 5; v++) {
      await writeVersion(shop, v);
      // data only the forgotten snapshots hold, so that prune has packs to delete and repack
      if (v < 3) await writeSeededFile(path.join(shop, 'system/storage/download', `old-${v}.zip`), `${SEED}/prune/old-${v}`, 2 * 1024 * KiB + v * 7000);
      else await fsp.rm(path.join(shop, 'system/storage/download', `old-${v - 3}.zip`), { force: true });
      const b = await template.backup([shop], ['--time', new Date(Date.parse('2024-05-01T10:00:00Z') + v * 86_400_000).toISOString()]);
      versions.push({ id: b.id, files: await hashTree(shop) });
    }
    expectCode(await template.run(['forget', '--keep-last', '2', '--json']), 0);
    kept.push(...versions.slice(3));
    const expected = new Map(kept.map((k) => [k.id, k.files]));

    // an uninterrupted prune: when it locks, how long it lasts, what it leaves
    const ref = await copy();
    const t0 = Date.now();
    const first = ref.start(['prune', '--max-unused', '0', '--json']);
    let ended = false;
    void first.done.then(() => (ended = true));
    const lockedAt = (await timeUntilFile(path.join(ref.repo, 'locks'), t0, () => ended)) ?? 0;
    const full = parseJson<PruneResult>(expectCode(await first.done, 0));
    const duration = Date.now() - t0;
    assert.ok(full.packs.deleted + full.packs.repacked > 0, `the uninterrupted prune deletes or repacks packs: ${JSON.stringify(full.packs)}`);
    const refBytes = [...(await repoFiles(ref.repo)).packs.values()].reduce((a, b) => a + b, 0);
    ctx.diagnostic(`an uninterrupted prune locks after ${lockedAt} ms, ends after ${duration} ms and leaves ${refBytes} bytes of packs`);
    await ref.cleanup();

    const phases: string[] = [];
    for (let trial = 0; trial < PRUNE_TRIALS; trial++) {
      const t = await copy();
      const before = await repoFiles(t.repo);
      const events = [
        { from: 'the first change', trigger: anyChange(t.repo, before), jitterMs: 20 },
        { from: 'the new index', trigger: newObjects(t.repo, before, 'index', 1), jitterMs: 8 },
      ];
      const kill = chooseKill(rng, path.join(t.repo, 'locks'), lockedAt, duration, events);
      const run = await killAfter(t, ['prune', '--max-unused', '0', '--json'], kill.delay, kill.trigger);
      const afterKill = await repoFiles(t.repo);
      const phase = prunePhase(before, afterKill, run.killed);
      phases.push(phase);
      const when = `${kill.delay} ms after ${kill.from}, at ${run.atMs} ms`;
      await within(`prune trial ${trial} (killed ${when}: ${phase}; ${replay(PRUNE_TRIALS)})`, async () => {
        if (!run.killed) expectCode(run.result, 0);
        const report = await assertCheckClean(t);
        assert.equal(report.snapshots, kept.length, 'the kept snapshots, no more, no less');
        await assertRestores(t, expected);

        // a later prune finishes the job: nothing unused is left, and (the grace for packs the
        // killed run wrote but never indexed set to 0) the repository is as small as after an
        // uninterrupted prune
        const last = parseJson<PruneResult>(expectCode(await t.run(['prune', '--max-unused', '0', '--orphan-grace', '0', '--json']), 0));
        assert.equal(last.bytes.unusedAfter, 0, `after the later prune nothing unused is left: ${JSON.stringify(last.bytes)}`);
        const bytes = [...(await repoFiles(t.repo)).packs.values()].reduce((a, b) => a + b, 0);
        assert.ok(bytes <= refBytes * 1.01 + 16 * KiB, `${bytes} bytes of packs are left; an uninterrupted prune leaves ${refBytes}`);
        const final = await assertCheckClean(t);
        assert.deepEqual(final.info.filter((i) => i.kind === 'orphan-pack'), [], 'every pack is indexed');
      });
      await t.cleanup();
    }
    const summary = `${PRUNE_TRIALS} prune trials, seed ${SEED}; killed while ${tally(phases)}`;
    ctx.diagnostic(summary);
    console.log(summary);
  });
});
