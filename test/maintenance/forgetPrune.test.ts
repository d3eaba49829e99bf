import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { dirSize, expectCode, parseJson, type TestRepo } from '../helpers/cli.js';
import { backupVersions, openRepo, packFiles, restoredFiles, smallRepo, writeVersion, type Version } from './fixtures.js';
import { hashTree } from '../helpers/tree.js';
import { backup } from '../../src/ops/backup.js';
import { forget } from '../../src/ops/forget.js';
import { prune, type PruneResult } from '../../src/ops/prune.js';
import { check } from '../../src/ops/check.js';
import type { ForgetResult } from '../../src/ops/forget.js';
import type { CheckReport } from '../../src/ops/check.js';

/** forget by policy, then prune: the repository shrinks and what is left is whole. */
describe('forget and prune', () => {
  let t: TestRepo;
  let versions: Version[];

  before(async () => {
    t = await smallRepo();
    // 2024-05-01 (Wed) .. 2024-05-08 (Wed), one snapshot a day
    versions = await backupVersions(t, t.path('shop'), 8);
  });
  after(async () => {
    await t?.cleanup();
  });

  test('forget refuses a policy that keeps nothing', async () => {
    const r = expectCode(await t.run(['forget', '--keep-daily', '0']), 2);
    assert.match(r.stderr, /no keep rule given .*refusing to forget every snapshot/);
    assert.equal((await t.snapshots()).length, 8);
  });

  test('forget --dry-run lists every snapshot with its decision and the rules behind it, and removes nothing', async () => {
    const r = parseJson<ForgetResult>(expectCode(await t.run(['forget', '--keep-last', '2', '--keep-weekly', '2', '--utc', '--dry-run', '--json']), 0));
    assert.equal(r.groups.length, 1);
    const rows = r.groups[0]!.snapshots.map((s) => [s.time.slice(0, 10), s.keep, s.reasons.join(', ')]);
    assert.deepEqual(rows, [
      ['2024-05-08', true, 'last snapshot, weekly snapshot'],
      ['2024-05-07', true, 'last snapshot'],
      ['2024-05-06', false, 'no rule keeps it'],
      ['2024-05-05', true, 'weekly snapshot'], // Sunday: the newest of the week of Apr 29
      ['2024-05-04', false, 'no rule keeps it'],
      ['2024-05-03', false, 'no rule keeps it'],
      ['2024-05-02', false, 'no rule keeps it'],
      ['2024-05-01', false, 'no rule keeps it'],
    ]);
    assert.equal(r.removed.length, 5);
    assert.equal((await t.snapshots()).length, 8, 'a dry run removes nothing');
  });

  test('forget --keep-last 3 --prune: five snapshots go, the repository shrinks, the rest restore byte for byte, check --read-data is clean', async () => {
    const before = await dirSize(path.join(t.repo, 'data'));
    const packsBefore = await packFiles(t.repo);
    const r = parseJson<ForgetResult & { prune: PruneResult }>(expectCode(await t.run(['forget', '--keep-last', '3', '--prune', '--json']), 0));
    assert.deepEqual([...r.removed].sort(), versions.slice(0, 5).map((v) => v.id).sort());
    assert.ok(r.prune.bytes.freed > 0, 'prune freed space');
    assert.ok(r.prune.packs.deleted + r.prune.packs.repacked > 0);
    const after = await dirSize(path.join(t.repo, 'data'));
    assert.ok(after < before, `data/ shrank: ${before} → ${after}`);
    assert.equal(before - after, r.prune.bytes.freed, 'the reported figure is what left the disk');
    assert.ok([...(await packFiles(t.repo)).keys()].some((p) => !packsBefore.has(p)) || r.prune.packs.repacked === 0);

    const kept = versions.slice(5);
    assert.deepEqual((await t.snapshots()).map((s) => s.id), kept.map((v) => v.id));
    // a fresh cache: everything comes from the repository as prune left it
    const repo = await openRepo(t, { cacheDir: t.path('fresh-cache') });
    try {
      for (const v of kept) assert.deepEqual(await restoredFiles(repo, v.id, t.path(`restore-${v.id.slice(0, 8)}`)), v.files, `snapshot of ${v.time}`);
    } finally {
      await repo.close();
    }
    const report = parseJson<CheckReport>(expectCode(await t.run(['check', '--read-data', '--json']), 0));
    assert.equal(report.ok, true);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.info.filter((i) => i.kind !== 'unused-blobs'), [], 'no orphan packs or old segments left behind');
    assert.equal(report.readData?.packs, report.packs);
  });

  test('a second prune has nothing to do; --max-unused 0% after another forget leaves no unused blob', async () => {
    let repo = await openRepo(t);
    try {
      const again = await prune(repo);
      assert.deepEqual([again.packs.deleted, again.packs.repacked, again.segments.written, again.bytes.freed], [0, 0, 0, 0]);
    } finally {
      await repo.close();
    }
    expectCode(await t.run(['forget', '--keep-last', '1']), 0);
    repo = await openRepo(t);
    try {
      const r = await prune(repo, { maxUnused: { percent: 0 } });
      assert.equal(r.bytes.unusedAfter, 0);
      assert.equal(r.blobs.unused > 0, true);
      const c = await check(repo);
      assert.deepEqual([c.ok, c.info], [true, []]);
      const last = versions[versions.length - 1]!;
      assert.deepEqual(await restoredFiles(repo, last.id, t.path('restore-last')), last.files);
    } finally {
      await repo.close();
    }
  });
});

test('one process backs up twice, forgets, prunes and backs up the same files again: the last snapshot restores (no blob or tree is taken for stored after prune deleted it)', async () => {
  const t = await smallRepo();
  try {
    const root = t.path('src');
    await writeVersion(root, 0);
    const repo = await openRepo(t);
    try {
      const first = await backup(repo, { paths: [root], kind: 'full', tags: [], excludes: [] });
      // an incremental backup reads the first one's trees: this process has seen them stored
      const again = await backup(repo, { paths: [root], kind: 'incremental', tags: [], excludes: [] });
      await forget(repo, { policy: {}, snapshots: [first.id, again.id] });
      const pruned = await prune(repo);
      assert.ok(pruned.packs.deleted > 0, 'the forgotten snapshot\'s packs are gone');
      const second = await backup(repo, { paths: [root], kind: 'full', tags: [], excludes: [] });
      assert.deepEqual(await restoredFiles(repo, second.id, t.path('restored')), await hashTree(root));
    } finally {
      await repo.close();
    }
  } finally {
    await t.cleanup();
  }
});
