import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TemplateCopies, TestRepo, describeRun, expectCode, type BackupResult } from '../helpers/cli.js';
import { hashTree, MiB, writeRandomFile as writeRandom } from '../helpers/tree.js';
import { backupVersions, openRepo, smallRepo, type Version } from '../maintenance/fixtures.js';
import { FaultBackend, type Fault } from '../../src/storage/FaultBackend.js';
import { LocalBackend } from '../../src/storage/LocalBackend.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';
import { Repository } from '../../src/repo/repository.js';
import { backup } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';
import { check } from '../../src/ops/check.js';
import { prune } from '../../src/ops/prune.js';
import { forget } from '../../src/ops/forget.js';
import { assertCleanCliFailure, assertCleanError, mountTmpfs, tmpLeftovers, tmpfsUnavailable, within, type Tmpfs } from './faultHelpers.js';

/**
 * Storage that fails: a real full disk (a few MiB of tmpfs holding the repository, the cache
 * or the restore target) through the CLI, and injected failures (EIO, failed and lost writes,
 * short and garbled reads, slow calls) on every kind of object through the library. Each
 * failure must be one clear line naming what failed; afterwards no earlier snapshot is lost,
 * check --read-data is clean, a new backup works and no temporary junk is left behind.
 */

async function writeRandomFile(file: string, size: number): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await writeRandom(file, size);
}

/** An error like the local backend's for a failing disk. */
function eio(location: string, op: string, type: string): () => Error {
  return () => new OcvaultError('StorageError', `cannot ${op} ${location}/${type}/…: EIO (input/output error)`, { errno: 'EIO', transient: false });
}

/** Every snapshot restores byte for byte, check --read-data is clean, and nothing is left in tmp/. */
async function assertIntact(t: TestRepo, versions: readonly Version[], label: string): Promise<void> {
  const repo = await Repository.open(new LocalBackend(t.repo), { password: t.password, cacheDir: t.path(`cache-${randomBytes(4).toString('hex')}`) });
  try {
    const ids = new Set(repo.snapshots().map((s) => s.id));
    for (const v of versions) assert.ok(ids.has(v.id), `${label}: snapshot ${v.id.slice(0, 8)} is still there`);
    for (const v of versions) {
      const target = t.path(`r-${randomBytes(4).toString('hex')}`);
      await restore(repo, { snapshot: v.id, target, includes: [] });
      assert.deepEqual(await hashTree(target), v.files, `${label}: snapshot ${v.id.slice(0, 8)} restores byte for byte`);
      await fsp.rm(target, { recursive: true, force: true });
    }
    const report = await check(repo, { readData: { all: true } });
    assert.deepEqual(report.errors, [], `${label}: check --read-data finds no error`);
  } finally {
    await repo.close();
  }
  assert.deepEqual(await tmpLeftovers(t.repo), [], `${label}: no temporary files left in tmp/`);
}

describe('injected storage faults (library, FaultBackend over a local repository)', () => {
  let template: TestRepo;
  let versions: Version[];
  let fresh: string;
  const copies = new TemplateCopies(() => template);
  let cases = 0;

  before(async () => {
    template = await smallRepo();
    versions = await backupVersions(template, template.path('shop'), 2);
    fresh = template.path('fresh');
    await writeRandomFile(path.join(fresh, 'a.bin'), 1_500_000);
    await writeRandomFile(path.join(fresh, 'b.bin'), 900_000);
    await fsp.writeFile(path.join(fresh, 'c.txt'), 'hello\n'.repeat(5000));
  });
  after(async () => {
    console.log(`# ${cases} injected fault cases`);
    await copies.cleanup();
  });
  const copy = (): Promise<TestRepo> => copies.copy();

  type Op = 'backup' | 'restore' | 'check' | 'prune' | 'forget' | 'open';
  interface Case {
    op: Op;
    name: string;
    faults: (location: string) => Fault[];
    /** must the operation fail? (slow stores must not) */
    fails: boolean;
    /** the error message names this */
    names?: RegExp;
  }

  /** Runs `op` on a copy of the template with `faults`, then checks the repository is intact. */
  async function runCase(c: Case): Promise<void> {
    cases++;
    const label = `${c.op}: ${c.name}`;
    const t = await copy();
    const fb = new FaultBackend(new LocalBackend(t.repo));
    const expected = [...versions];
    if (c.op === 'open') {
      for (const f of c.faults(fb.location)) fb.inject(f);
      const opened = await within(60_000, label, openRepo(t, { backend: fb }).then(
        (r) => ({ r, e: undefined }),
        (e: unknown) => ({ r: undefined, e }),
      ));
      await opened.r?.close();
      if (c.fails) {
        assert.ok(opened.e !== undefined, `${label}: the open fails`);
        assertCleanError(opened.e, t.password, c.names, label);
      } else assert.equal(opened.e, undefined, `${label}: the open succeeds`);
    } else {
      if (c.op === 'prune') {
        const r0 = await openRepo(t);
        try {
          await forget(r0, { policy: { last: 1 } });
        } finally {
          await r0.close();
        }
        expected.splice(0, expected.length - 1);
      }
      const repo = await openRepo(t, { backend: fb, cacheDir: t.path('cache-op') });
      for (const f of c.faults(fb.location)) fb.inject(f);
      let failure: unknown;
      try {
        await within(120_000, label, (async () => {
          if (c.op === 'backup') {
            const r = await backup(repo, { paths: [fresh], kind: 'incremental', tags: [], excludes: [] });
            expected.push({ id: r.id, time: r.snapshot.time, files: await hashTree(fresh) });
          } else if (c.op === 'restore') {
            const target = t.path('restore-target');
            await restore(repo, { snapshot: versions[1]!.id, target, includes: [] });
            assert.deepEqual(await hashTree(target), versions[1]!.files, `${label}: a restore that succeeds restores the right bytes`);
          } else if (c.op === 'check') {
            const report = await check(repo, { readData: { all: true } });
            if (!report.ok) {
              const text = report.errors.map((e) => e.message).join(' | ');
              throw new OcvaultError('CorruptObject', `check: ${text}`);
            }
          } else if (c.op === 'prune') {
            await prune(repo, { maxUnused: { percent: 0 }, orphanGraceMs: 0 });
          } else if (c.op === 'forget') {
            const r = await forget(repo, { policy: { last: 1 } });
            assert.equal(r.removed.length, 1);
            expected.splice(0, 1);
          }
        })());
      } catch (e) {
        failure = e;
      } finally {
        fb.clear();
        await repo.close();
      }
      if (c.fails) {
        assert.ok(failure !== undefined, `${label}: the operation fails`);
        assertCleanError(failure, t.password, c.names, label);
      } else if (failure !== undefined) {
        assert.fail(`${label}: the operation should succeed: ${failure instanceof Error ? failure.stack : String(failure)}`);
      }
      if (c.op === 'forget' && failure !== undefined) {
        // a failed forget may have removed the snapshot it was told to (or not): both are fine
        const repo2 = await openRepo(t, { cacheDir: t.path('cache-after') });
        const left = new Set(repo2.snapshots().map((s) => s.id));
        await repo2.close();
        if (!left.has(expected[0]!.id)) expected.splice(0, 1);
      }
    }
    await assertIntact(t, expected, label);
    // and the repository works: a new backup, which restores too
    const repo = await openRepo(t, { cacheDir: t.path('cache-after') });
    try {
      const r = await backup(repo, { paths: [fresh], kind: 'incremental', tags: [], excludes: [] });
      expected.push({ id: r.id, time: r.snapshot.time, files: await hashTree(fresh) });
    } finally {
      await repo.close();
    }
    await assertIntact(t, expected.slice(-1), `${label}, then a new backup`);
  }

  const short = (b: Buffer): Buffer => b.subarray(0, Math.max(0, b.length - 7));
  const garble = (b: Buffer): Buffer => {
    const out = Buffer.from(b);
    if (out.length) out[out.length >> 1] ^= 0x20;
    return out;
  };
  const all: Case[] = [
    // backup
    { op: 'backup', name: 'first pack write fails (EIO)', fails: true, names: /data/, faults: (l) => [{ op: 'save', type: 'data', error: eio(l, 'write', 'data') }] },
    { op: 'backup', name: 'second pack write fails', fails: true, names: /data/, faults: (l) => [{ op: 'save', type: 'data', skip: 1, error: eio(l, 'write', 'data') }] },
    { op: 'backup', name: 'pack stored but the reply lost', fails: true, faults: () => [{ op: 'save', type: 'data', afterSave: true }] },
    { op: 'backup', name: 'index segment write fails', fails: true, names: /index/, faults: (l) => [{ op: 'save', type: 'index', error: eio(l, 'write', 'index') }] },
    { op: 'backup', name: 'index stored but the reply lost', fails: true, faults: () => [{ op: 'save', type: 'index', afterSave: true }] },
    { op: 'backup', name: 'snapshot write fails', fails: true, names: /snapshots/, faults: (l) => [{ op: 'save', type: 'snapshots', error: eio(l, 'write', 'snapshots') }] },
    { op: 'backup', name: 'lock write fails', fails: true, names: /locks/, faults: (l) => [{ op: 'save', type: 'locks', error: eio(l, 'write', 'locks') }] },
    { op: 'backup', name: 'listing packs fails', fails: true, names: /data/, faults: (l) => [{ op: 'list', type: 'data', error: eio(l, 'list', 'data') }] },
    { op: 'backup', name: 'every write slow (150 ms)', fails: false, faults: () => [{ op: 'save', times: Infinity, delayMs: 150 }] },
    // restore
    { op: 'restore', name: 'pack read fails (EIO)', fails: true, names: /data/, faults: (l) => [{ op: 'load', type: 'data', times: Infinity, error: eio(l, 'read', 'data') }] },
    { op: 'restore', name: 'a late pack read fails (EIO)', fails: true, names: /data/, faults: (l) => [{ op: 'load', type: 'data', skip: 2, error: eio(l, 'read', 'data') }] },
    { op: 'restore', name: 'pack reads return 7 bytes too few', fails: true, names: /pack [0-9a-f]{8}/, faults: () => [{ op: 'load', type: 'data', times: Infinity, mangle: short }] },
    { op: 'restore', name: 'a late pack read returns 7 bytes too few', fails: true, names: /pack [0-9a-f]{8}/, faults: () => [{ op: 'load', type: 'data', skip: 2, mangle: short }] },
    { op: 'restore', name: 'pack reads return a garbled byte', fails: true, names: /pack [0-9a-f]{8}/, faults: () => [{ op: 'load', type: 'data', times: Infinity, mangle: garble }] },
    { op: 'restore', name: 'pack reads return nothing', fails: true, names: /pack [0-9a-f]{8}/, faults: () => [{ op: 'load', type: 'data', times: Infinity, mangle: () => Buffer.alloc(0) }] },
    { op: 'restore', name: 'lock write fails', fails: true, names: /locks/, faults: (l) => [{ op: 'save', type: 'locks', error: eio(l, 'write', 'locks') }] },
    { op: 'restore', name: 'lock write finds the disk full: restores without a lock', fails: false, faults: (l) => [{ op: 'save', type: 'locks', error: () => new OcvaultError('StorageError', `cannot write ${l}/locks/…: no space left on device`, { errno: 'ENOSPC' }) }] },
    { op: 'restore', name: 'every read slow (100 ms)', fails: false, faults: () => [{ op: 'load', times: Infinity, delayMs: 100 }] },
    // check --read-data
    { op: 'check', name: 'pack read fails (EIO)', fails: true, names: /pack [0-9a-f]{8}|data/, faults: (l) => [{ op: 'load', type: 'data', times: Infinity, error: eio(l, 'read', 'data') }] },
    { op: 'check', name: 'pack reads return 7 bytes too few', fails: true, names: /pack [0-9a-f]{8}/, faults: () => [{ op: 'load', type: 'data', times: Infinity, mangle: short }] },
    { op: 'check', name: 'pack reads return a garbled byte', fails: true, names: /pack [0-9a-f]{8}/, faults: () => [{ op: 'load', type: 'data', times: Infinity, mangle: garble }] },
    { op: 'check', name: 'index segment reads return 7 bytes too few', fails: true, names: /index\/[0-9a-f]{8}/, faults: () => [{ op: 'load', type: 'index', times: Infinity, mangle: short }] },
    { op: 'check', name: 'snapshot reads return a garbled byte', fails: true, names: /snapshot [0-9a-f]{8}/, faults: () => [{ op: 'load', type: 'snapshots', times: Infinity, mangle: garble }] },
    { op: 'check', name: 'listing snapshots fails', fails: true, names: /snapshots/, faults: (l) => [{ op: 'list', type: 'snapshots', error: eio(l, 'list', 'snapshots') }] },
    { op: 'check', name: 'lock write fails', fails: true, names: /locks/, faults: (l) => [{ op: 'save', type: 'locks', error: eio(l, 'write', 'locks') }] },
    // prune (after forgetting the older snapshot)
    { op: 'prune', name: 'repacked pack write fails', fails: true, names: /data/, faults: (l) => [{ op: 'save', type: 'data', error: eio(l, 'write', 'data') }] },
    { op: 'prune', name: 'new index write fails', fails: true, names: /index/, faults: (l) => [{ op: 'save', type: 'index', error: eio(l, 'write', 'index') }] },
    { op: 'prune', name: 'pack deletion fails', fails: true, names: /data/, faults: (l) => [{ op: 'remove', type: 'data', error: eio(l, 'remove', 'data') }] },
    { op: 'prune', name: 'old index deletion fails', fails: true, names: /index/, faults: (l) => [{ op: 'remove', type: 'index', error: eio(l, 'remove', 'index') }] },
    // the last bytes are the pack header, which a repack does not need: it verifies every blob it copies
    { op: 'prune', name: 'pack reads for the repack miss the last 7 bytes', fails: false, faults: () => [{ op: 'load', type: 'data', times: Infinity, mangle: short }] },
    { op: 'prune', name: 'pack reads for the repack return half the bytes', fails: true, names: /pack [0-9a-f]{8}/, faults: () => [{ op: 'load', type: 'data', times: Infinity, mangle: (b) => b.subarray(0, b.length >> 1) }] },
    { op: 'prune', name: 'pack reads for the repack return a garbled byte', fails: true, names: /pack [0-9a-f]{8}/, faults: () => [{ op: 'load', type: 'data', times: Infinity, mangle: garble }] },
    { op: 'prune', name: 'exclusive lock write fails', fails: true, names: /locks/, faults: (l) => [{ op: 'save', type: 'locks', error: eio(l, 'write', 'locks') }] },
    // forget
    { op: 'forget', name: 'snapshot deletion fails', fails: true, names: /snapshots/, faults: (l) => [{ op: 'remove', type: 'snapshots', error: eio(l, 'remove', 'snapshots') }] },
    { op: 'forget', name: 'lock write fails', fails: true, names: /locks/, faults: (l) => [{ op: 'save', type: 'locks', error: eio(l, 'write', 'locks') }] },
    // opening the repository
    { op: 'open', name: 'config read returns 7 bytes too few', fails: true, names: /config/, faults: () => [{ op: 'load', type: 'config', mangle: short }] },
    { op: 'open', name: 'config read fails (EIO)', fails: true, names: /config/, faults: (l) => [{ op: 'load', type: 'config', error: eio(l, 'read', 'config') }] },
    { op: 'open', name: 'key read returns 7 bytes too few', fails: true, names: /keys\/[0-9a-f]{8}/, faults: () => [{ op: 'load', type: 'keys', mangle: short }] },
    { op: 'open', name: 'key read garbled', fails: true, names: /keys\/[0-9a-f]{8}.* damaged/, faults: () => [{ op: 'load', type: 'keys', mangle: garble }] },
    { op: 'open', name: 'index segment read returns 7 bytes too few', fails: true, names: /index\/[0-9a-f]{8}/, faults: () => [{ op: 'load', type: 'index', mangle: short }] },
    { op: 'open', name: 'listing index segments fails', fails: true, names: /index/, faults: (l) => [{ op: 'list', type: 'index', error: eio(l, 'list', 'index') }] },
  ];

  for (const c of all) {
    test(`${c.op}: ${c.name}`, { timeout: 180_000 }, async () => {
      await runCase(c);
    });
  }

  test('backup: the index segment written mid-backup (after 16 packs) fails', { timeout: 180_000 }, async () => {
    cases++;
    const t = await copy();
    const big = t.path('big');
    for (let i = 0; i < 18; i++) await writeRandomFile(path.join(big, `f${i}.bin`), 1_100_000);
    const fb = new FaultBackend(new LocalBackend(t.repo));
    const repo = await openRepo(t, { backend: fb, cacheDir: t.path('cache-op') });
    fb.inject({ op: 'save', type: 'index', error: eio(fb.location, 'write', 'index') });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    let failure: unknown;
    try {
      await backup(repo, { paths: [big], kind: 'incremental', tags: [], excludes: [] });
    } catch (e) {
      failure = e;
    } finally {
      fb.clear();
      await repo.close();
      await new Promise((r) => setTimeout(r, 50));
      process.off('unhandledRejection', onUnhandled);
    }
    assert.deepEqual(unhandled.map(String), [], 'no unhandled rejection (it would crash the CLI)');
    assertCleanError(failure, t.password, /index/, 'mid-backup index');
    await assertIntact(t, versions, 'mid-backup index write failed');
  });
});

describe('a real full disk (tmpfs) through the CLI', { skip: tmpfsUnavailable() }, () => {
  const mounts: Tmpfs[] = [];
  const repos: TestRepo[] = [];
  after(async () => {
    for (const m of mounts) await m.unmount().catch((e: unknown) => console.error(`umount ${m.dir}: ${String(e)}`));
    for (const t of repos) await t.cleanup();
  });

  async function repoOnTmpfs(bytes: number): Promise<{ t: TestRepo; fs: Tmpfs }> {
    const t = await TestRepo.create({ init: false });
    repos.push(t);
    const fs = await mountTmpfs(t.repo, bytes);
    mounts.push(fs);
    await t.ok(['init']);
    return { t, fs };
  }

  async function filesOf(dir: string): Promise<Map<string, string>> {
    return hashTree(dir);
  }

  test('backup bigger than the disk: one line naming the repository and "no space left on device"; nothing lost; works after freeing space', { timeout: 240_000 }, async () => {
    const { t, fs } = await repoOnTmpfs(6 * MiB);
    const small = t.path('small');
    await writeRandomFile(path.join(small, 'one.bin'), 700_000);
    await fsp.writeFile(path.join(small, 'notes.txt'), 'notes\n'.repeat(1000));
    const first = await t.backup([small]);
    const big = t.path('big');
    for (let i = 0; i < 4; i++) await writeRandomFile(path.join(big, `f${i}.bin`), 3 * MiB);

    const sizes: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = await t.run(['backup', big], { timeoutMs: 120_000 });
      const line = assertCleanCliFailure(r, t.password, /no space left on device/);
      assert.ok(line.includes(t.repo), `names the repository location\n${describeRun(r)}`);
      assert.deepEqual(await tmpLeftovers(t.repo), [], `attempt ${attempt}: no staged or temporary file left in tmp/`);
      sizes.push((await fsp.statfs(t.repo)).bfree);
    }
    assert.ok(sizes[2]! >= sizes[1]!, `repeated failures do not eat more space (free blocks ${sizes.join(', ')})`);

    const snaps = await t.snapshots();
    assert.deepEqual(snaps.map((s) => s.id), [first.id], 'the earlier snapshot is there, no new one');
    const target = t.path('restore-small');
    await t.restore(first.id, target);
    assert.deepEqual(await filesOf(target), await filesOf(small), 'the earlier snapshot restores byte for byte');
    expectCode(await t.run(['check', '--read-data']), 0);

    await fs.resize(64 * MiB);
    const second: BackupResult = await t.backup([big]);
    const target2 = t.path('restore-big');
    await t.restore(second.id, target2);
    assert.deepEqual(await filesOf(target2), await filesOf(big), 'after freeing space the big backup works and restores');
    expectCode(await t.run(['check', '--read-data']), 0);
    assert.deepEqual(await tmpLeftovers(t.repo), []);
  });

  test('a completely full repository disk: check, forget, prune and backup fail in one line; snapshots still list; restore works without a lock', { timeout: 240_000 }, async () => {
    const { t, fs } = await repoOnTmpfs(4 * MiB);
    const src = t.path('src');
    await writeRandomFile(path.join(src, 'a.bin'), 300_000);
    const first = await t.backup([src]);
    const firstFiles = await filesOf(src);
    await fsp.appendFile(path.join(src, 'a.bin'), randomBytes(1000));
    const second = await t.backup([src]);
    // fill what is left
    const filler = path.join(t.repo, 'filler');
    await fsp.writeFile(filler, Buffer.alloc(8 * MiB)).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    });
    const listed = await t.snapshots();
    assert.equal(listed.length, 2, 'listing needs no space');
    for (const args of [['check'], ['forget', '--keep-last', '1', '--prune'], ['prune'], ['backup', src]]) {
      const r = await t.run(args, { timeoutMs: 120_000 });
      assertCleanCliFailure(r, t.password, /no space left on device/);
    }
    // a restore is needed most when the backup disk is full: it goes on without a lock, and says so
    const r = await t.run(['restore', first.id, '--target', t.path('restore-full')], { timeoutMs: 120_000 });
    expectCode(r, 0);
    assert.match(r.stderr, /^warning: .*no space left on device; going on without a lock$/m, describeRun(r));
    assert.deepEqual(await filesOf(t.path('restore-full')), firstFiles, 'restores byte for byte from the full disk');
    await fsp.rm(filler);
    await fs.resize(16 * MiB);
    assert.deepEqual((await t.snapshots()).map((s) => s.id).sort(), [first.id, second.id].sort(), 'no snapshot lost');
    expectCode(await t.run(['check', '--read-data']), 0);
    await t.backup([src]);
    assert.deepEqual(await tmpLeftovers(t.repo), []);
  });

  test('a read-only repository: restore works without a lock and says so; backup fails in one line', { timeout: 240_000 }, async () => {
    const { t, fs } = await repoOnTmpfs(8 * MiB);
    const src = t.path('src');
    await writeRandomFile(path.join(src, 'a.bin'), 200_000);
    const snap = await t.backup([src]);
    await fs.readOnly(true);
    try {
      const r = await t.run(['restore', snap.id, '--target', t.path('restored')], { timeoutMs: 120_000 });
      expectCode(r, 0);
      assert.match(r.stderr, /^warning: .*locks.*EROFS.*going on without a lock$/m, describeRun(r));
      assert.deepEqual(await filesOf(t.path('restored')), await filesOf(src));
      assertCleanCliFailure(await t.run(['backup', src], { timeoutMs: 120_000 }), t.password, /EROFS|read-only/);
    } finally {
      await fs.readOnly(false);
    }
    expectCode(await t.run(['check', '--read-data']), 0);
  });

  test('restore onto a full target disk: one line naming the file and "no space left on device"; the repository is untouched', { timeout: 240_000 }, async () => {
    const t = await TestRepo.create();
    repos.push(t);
    const src = t.path('src');
    await writeRandomFile(path.join(src, 'big.bin'), 3 * MiB);
    await fsp.writeFile(path.join(src, 'small.txt'), 'small\n');
    const snap = await t.backup([src]);
    const target = t.path('target');
    mounts.push(await mountTmpfs(target, 1 * MiB));
    const r = await t.run(['restore', snap.id, '--target', target], { timeoutMs: 120_000 });
    const line = assertCleanCliFailure(r, t.password, /no space left on device/);
    assert.ok(line.includes(target), `names the target file\n${describeRun(r)}`);
    expectCode(await t.run(['check', '--read-data']), 0);
  });

  test('restore onto a target out of inodes: one line naming the directory that could not be made', { timeout: 240_000 }, async () => {
    const t = await TestRepo.create();
    repos.push(t);
    const src = t.path('src');
    for (let i = 0; i < 40; i++) {
      await fsp.mkdir(path.join(src, `d${i}`), { recursive: true });
      await fsp.writeFile(path.join(src, `d${i}`, 'f.txt'), `file ${i}\n`);
    }
    const snap = await t.backup([src]);
    const target = t.path('target');
    mounts.push(await mountTmpfs(target, 4 * MiB, 16));
    const r = await t.run(['restore', snap.id, '--target', target], { timeoutMs: 120_000 });
    const line = assertCleanCliFailure(r, t.password, /^ocvault: cannot (make the directory|write) .*no space left on device/);
    assert.ok(line.includes(target), `names the path\n${describeRun(r)}`);
    expectCode(await t.run(['check', '--read-data']), 0);
  });

  test('the local index cache on a full disk: one line naming the cache, at open and while the index fills', { timeout: 240_000 }, async () => {
    const t = await TestRepo.create();
    repos.push(t);
    const src = t.path('src');
    await fsp.mkdir(src, { recursive: true });
    // many small blobs: an index of some 300 KiB
    for (let i = 0; i < 2000; i++) await fsp.writeFile(path.join(src, `f${i}.txt`), randomBytes(150).toString('hex'));
    const snap = await t.backup([src]);
    const cache = t.path('small-cache');
    mounts.push(await mountTmpfs(cache, 256 * 1024));
    let failed = 0;
    // little room (the open fails) to some room (the index fills up while it syncs)
    for (const fill of [240, 150, 40]) {
      for (const e of await fsp.readdir(cache)) await fsp.rm(path.join(cache, e), { recursive: true, force: true });
      await fsp.writeFile(path.join(cache, 'filler'), Buffer.alloc(fill * 1024));
      for (const args of [['snapshots'], ['restore', snap.id, '--target', t.path(`r-${fill}`)], ['backup', src]]) {
        const r = await t.run(args, { env: { OCVAULT_CACHE_DIR: cache }, timeoutMs: 120_000 });
        if (r.code === 0) continue;
        failed++;
        const line = assertCleanCliFailure(r, t.password, /no space left on device|disk is full/i);
        assert.ok(line.includes(cache), `names the cache\n${describeRun(r)}`);
      }
    }
    assert.ok(failed >= 3, `the full cache made commands fail (${failed})`);
    expectCode(await t.run(['check', '--read-data']), 0);
    assert.equal((await t.snapshots()).length, 1);
  });
});
