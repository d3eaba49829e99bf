import { test, describe, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestRepo, expectCode, oneLine, parseJson, type BackupResult } from '../helpers/cli.js';
import { hashTree } from '../helpers/tree.js';
import { smallRepo } from '../maintenance/fixtures.js';
import { Repository } from '../../src/repo/repository.js';
import { LocalBackend } from '../../src/storage/LocalBackend.js';
import { FaultBackend } from '../../src/storage/FaultBackend.js';
import { backup } from '../../src/ops/backup.js';
import { encodeLock, type Lock } from '../../src/repo/lock.js';
import { sealObject } from '../../src/repo/objectCodec.js';
import type { CheckReport } from '../../src/ops/check.js';
import { Rng, trialSeed, writeSeededFile } from './crashTrialHelpers.js';

/**
 * Several ocvault processes on one repository: two stores backing up at once, a backup racing
 * a prune, locks left by dead processes and by other hosts, and a lock that cannot be kept.
 * Whatever the timing: no snapshot may point at deleted data, and a refusal is one clear line.
 */
const SEED = trialSeed();
const KiB = 1024;
const MiB = 1024 * KiB;
const repos: TestRepo[] = [];
after(async () => {
  for (const t of repos) await t.cleanup();
});

async function newRepo(): Promise<TestRepo> {
  const t = await smallRepo();
  repos.push(t);
  return t;
}

async function assertCheckClean(t: TestRepo): Promise<CheckReport> {
  const r = expectCode(await t.run(['check', '--read-data', '--json']), 0);
  const report = parseJson<CheckReport>(r);
  assert.deepEqual(report.errors, [], 'check --read-data finds no error');
  return report;
}

async function assertRestores(t: TestRepo, id: string, want: Map<string, string>): Promise<void> {
  const target = t.path(`restore-${id.slice(0, 12)}-${Date.now()}`);
  expectCode(await t.run(['restore', id, '--target', target]), 0);
  assert.deepEqual(await hashTree(target), want, `snapshot ${id.slice(0, 8)} restores byte for byte`);
  await fsp.rm(target, { recursive: true, force: true });
}

const lockFiles = (t: TestRepo): string[] => readdirSync(path.join(t.repo, 'locks'));

/** Seals a lock object into the repository as another process (or host) would. */
async function plantLock(t: TestRepo, lock: Partial<Lock>): Promise<string> {
  const repo = await Repository.open(new LocalBackend(t.repo), { password: t.password, cacheDir: t.path('plant-cache') });
  try {
    const l: Lock = { version: 1, time: new Date().toISOString(), host: hostname(), pid: process.pid, user: 'someone', exclusive: false, ...lock };
    const bytes = sealObject(repo.sealer, encodeLock(l), 0);
    const name = repo.hasher.plain(bytes).toString('hex');
    await repo.backend.save('locks', name, bytes);
    return name;
  } finally {
    await repo.close();
  }
}

/** A pid no process has: one that just ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('two stores back up into one repository at once', () => {
  test('both snapshots complete and restore exactly, round after round', { timeout: 120_000 }, async () => {
    const t = await newRepo();
    const a = t.path('shop-a');
    const b = t.path('shop-b');
    const snaps = new Map<string, Map<string, string>>();
    for (let round = 0; round < 3; round++) {
      // each store changes; some content both stores have (the same product images)
      for (const [dir, name] of [[a, 'a'], [b, 'b']] as const) {
        await writeSeededFile(path.join(dir, 'image', `own-${round}.jpg`), `${SEED}/${name}/${round}`, 2 * MiB + round * 999);
        await writeSeededFile(path.join(dir, 'image', `shared-${round}.jpg`), `${SEED}/shared/${round}`, MiB);
        await writeSeededFile(path.join(dir, 'config.php'), `${SEED}/${name}/config/${round}`, 3 * KiB);
      }
      const [ra, rb] = await Promise.all([t.run(['backup', a, '--json']), t.run(['backup', b, '--json'])]);
      const sa = parseJson<BackupResult>(expectCode(ra, 0));
      const sb = parseJson<BackupResult>(expectCode(rb, 0));
      snaps.set(sa.id, await hashTree(a));
      snaps.set(sb.id, await hashTree(b));
      assert.notEqual(sa.id, sb.id);
    }
    const report = await assertCheckClean(t);
    assert.equal(report.snapshots, snaps.size);
    assert.deepEqual(lockFiles(t), [], 'both released their locks');
    for (const [id, want] of snaps) await assertRestores(t, id, want);
  });
});

describe('a backup while prune runs', () => {
  test('refused with a clear "locked" line or run one after the other; never a snapshot of deleted data', { timeout: 150_000 }, async () => {
    const t = await newRepo();
    const rng = new Rng(SEED);
    const src = t.path('shop');
    await writeSeededFile(path.join(src, 'catalog', 'index.php'), `${SEED}/index`, 40 * KiB);
    const outcomes: string[] = [];
    for (let round = 0; round < 3; round++) {
      // a file that only a snapshot about to be forgotten holds...
      const content = `${SEED}/gone/${round}`;
      await writeSeededFile(path.join(src, 'download', 'gone.zip'), content, 2 * MiB);
      await t.backup([src]);
      await fsp.rm(path.join(src, 'download', 'gone.zip'));
      await t.backup([src]);
      expectCode(await t.run(['forget', '--keep-last', '1']), 0);
      // ...comes back (the shop owner restored it) while prune deletes its packs
      await writeSeededFile(path.join(src, 'download', 'back.zip'), content, 2 * MiB);
      const want = await hashTree(src);
      const prune = t.start(['prune', '--max-unused', '0']);
      await sleep(rng.int(0, 1200));
      const b = await t.run(['backup', src, '--json']);
      const p = await prune.done;
      for (const r of [b, p]) {
        if (r.code !== 0) {
          assert.equal(r.code, 1, `${r.argv.join(' ')}: exit 1`);
          assert.match(oneLine(r), /is locked (exclusively|shared) by .* pid \d+/, `${r.argv.join(' ')}: one "locked" line`);
        }
      }
      outcomes.push(`backup ${b.code === 0 ? 'ran' : 'refused'}, prune ${p.code === 0 ? 'ran' : 'refused'}`);
      await assertCheckClean(t);
      if (b.code === 0) await assertRestores(t, parseJson<BackupResult>(b).id, want);
      await fsp.rm(path.join(src, 'download', 'back.zip'));
    }
    console.log(`backup during prune (seed ${SEED}): ${outcomes.join('; ')}`);
  });

  test('a backup that opened the repository before a prune ran does not reuse what the prune deleted', { timeout: 90_000 }, async () => {
    const t = await newRepo();
    const src = t.path('shop');
    await writeSeededFile(path.join(src, 'image', 'a.jpg'), `${SEED}/race/a`, 3 * MiB);
    await writeSeededFile(path.join(src, 'config.php'), `${SEED}/race/config`, 2 * KiB);
    const first = await t.backup([src]);
    // another machine (its own cache) opens the repository: its index knows the blobs of a.jpg
    const repo = await Repository.open(new LocalBackend(t.repo), { password: t.password, cacheDir: t.path('other-cache') });
    try {
      // meanwhile the snapshot is forgotten and pruned: a.jpg's packs are deleted
      expectCode(await t.run(['forget', first.id]), 0);
      expectCode(await t.run(['prune', '--max-unused', '0']), 0);
      // now the backup takes its lock: it must see the repository as it is now
      const r = await backup(repo, { paths: [src], kind: 'incremental', tags: [], excludes: [] });
      await repo.close();
      await assertCheckClean(t);
      await assertRestores(t, r.id, await hashTree(src));
    } finally {
      await repo.close().catch(() => undefined);
    }
  });
});

describe('locks', () => {
  test('a lock left by a dead process on this host is cleared by the next command', { timeout: 60_000 }, async () => {
    const t = await newRepo();
    const src = t.path('src');
    await writeSeededFile(path.join(src, 'f.bin'), `${SEED}/dead`, 100 * KiB);
    const planted = await plantLock(t, { pid: deadPid(), exclusive: true });
    assert.deepEqual(lockFiles(t), [planted]);
    const b = await t.backup([src]);
    assert.deepEqual(lockFiles(t), [], 'the dead lock is gone, and the backup released its own');
    await plantLock(t, { pid: deadPid(), exclusive: false });
    expectCode(await t.run(['prune']), 0);
    assert.deepEqual(lockFiles(t), []);
    await assertRestores(t, b.id, await hashTree(src));
  });

  test('a fresh lock of another host blocks until an explicit unlock --remove-all; plain unlock keeps it', { timeout: 90_000 }, async () => {
    const t = await newRepo();
    const src = t.path('src');
    await writeSeededFile(path.join(src, 'f.bin'), `${SEED}/foreign`, 100 * KiB);
    const foreign = await plantLock(t, { host: 'nas.other.example', pid: 4242, user: 'backup', exclusive: true });
    const refused = expectCode(await t.run(['backup', src]), 1);
    const line = oneLine(refused);
    assert.match(line, /is locked exclusively by backup@nas\.other\.example pid 4242/);
    assert.match(line, /ocvault unlock --remove-all/, 'the message says how to clear it once that host is known to be idle');
    // that host may be busy right now: a plain unlock (stale locks only) must leave it
    const plain = expectCode(await t.run(['unlock', '--json']), 0);
    assert.deepEqual(parseJson<{ removed: string[] }>(plain).removed, []);
    assert.deepEqual(lockFiles(t), [foreign]);
    expectCode(await t.run(['backup', src]), 1);
    expectCode(await t.run(['unlock', '--remove-all']), 0);
    assert.deepEqual(lockFiles(t), []);
    await t.backup([src]);

    // a shared lock of another host lets backups run but not prune
    await plantLock(t, { host: 'nas.other.example', pid: 4243, exclusive: false });
    await t.backup([src]);
    const p = expectCode(await t.run(['prune']), 1);
    assert.match(oneLine(p), /is locked shared by .*nas\.other\.example pid 4243/);

    // one not refreshed for over 30 minutes is stale: plain unlock removes it
    expectCode(await t.run(['unlock', '--remove-all']), 0);
    const old = await plantLock(t, { host: 'nas.other.example', pid: 4244, exclusive: true, time: new Date(Date.now() - 31 * 60_000).toISOString() });
    const removed = parseJson<{ removed: string[] }>(expectCode(await t.run(['unlock', '--json']), 0)).removed;
    assert.deepEqual(removed, [old]);
    expectCode(await t.run(['prune']), 0);
  });

  test('a backup whose lock cannot be refreshed stops before it makes a snapshot', { timeout: 60_000 }, async () => {
    const t = await newRepo();
    const src = t.path('src');
    for (let i = 0; i < 4; i++) await writeSeededFile(path.join(src, `f${i}.bin`), `${SEED}/refresh/${i}`, MiB);
    const faulty = new FaultBackend(new LocalBackend(t.repo));
    const repo = await Repository.open(faulty, { password: t.password, cacheDir: t.cache, lockTiming: { refreshMs: 40, staleMs: 200 } });
    try {
      // the first lock save (taking the lock) goes through; every refresh fails; packs are slow
      faulty.inject({ op: 'save', type: 'locks', skip: 1, times: Infinity });
      faulty.inject({ op: 'save', type: 'data', times: Infinity, action: () => sleep(120) });
      await assert.rejects(backup(repo, { paths: [src], kind: 'incremental', tags: [], excludes: [] }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'LockLost', e.message);
        assert.match(e.message, /stopping rather than risk data/);
        return true;
      });
    } finally {
      await repo.close();
    }
    assert.deepEqual(readdirSync(path.join(t.repo, 'snapshots')), [], 'no snapshot was made');
    assert.deepEqual(lockFiles(t), [], 'the lock it could not refresh is removed as it stops');
    await assertCheckClean(t);
    const b = await t.backup([src]);
    await assertRestores(t, b.id, await hashTree(src));
  });

  test('a process whose lock was removed stops, and never writes a lock into a repository made anew at its place', { timeout: 60_000 }, async () => {
    const t = await newRepo();
    // the refresh timer is driven by hand (mock setInterval), so nothing races the unlock below
    const timing = { refreshMs: 60_000, staleMs: 600_000 };
    const refreshNow = async (): Promise<void> => {
      mock.timers.tick(timing.refreshMs);
      await sleep(300);
    };
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      const repo = await Repository.open(new LocalBackend(t.repo), { password: t.password, cacheDir: t.cache, lockTiming: timing });
      try {
        await repo.lockShared();
        const mine = lockFiles(t);
        assert.equal(mine.length, 1);
        await refreshNow();
        assert.equal(lockFiles(t).length, 1, 'a refresh replaces the lock');
        assert.notDeepEqual(lockFiles(t), mine, 'a refresh replaces the lock');
        repo.checkLock();
        // someone runs `unlock --remove-all`: the holder must notice and not put its lock back
        expectCode(await t.run(['unlock', '--remove-all']), 0);
        await refreshNow();
        assert.deepEqual(lockFiles(t), [], 'the removed lock was not put back by a refresh');
        assert.throws(() => repo.checkLock(), (e: Error & { code?: string }) => e.code === 'LockLost' && /removed/.test(e.message));
      } finally {
        await repo.close();
      }

      // the repository deleted and made anew (another key) while a holder runs: its refresh
      // must not leave a lock the new repository cannot read
      const holder = await Repository.open(new LocalBackend(t.repo), { password: t.password, cacheDir: t.path('cache2'), lockTiming: timing });
      try {
        await holder.lockShared();
        await fsp.rm(t.repo, { recursive: true });
        expectCode(await t.run(['init']), 0);
        await refreshNow();
        assert.deepEqual(lockFiles(t), [], 'no lock sealed with the old key in the new repository');
        const src = t.path('src');
        await writeSeededFile(path.join(src, 'f.bin'), `${SEED}/anew`, 10 * KiB);
        await t.backup([src]);
      } finally {
        await holder.close();
      }
    } finally {
      mock.timers.reset();
    }
  });
});
