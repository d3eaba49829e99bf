import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expectCode, parseJson, TestRepo } from '../helpers/cli.js';
import { backupVersions, openRepo, packFiles, restoredFiles, smallRepo, type Version } from './fixtures.js';
import { IndexView } from '../../src/ops/indexView.js';
import { restore } from '../../src/ops/restore.js';
import type { CheckReport } from '../../src/ops/check.js';
import type { DrillReport } from '../../src/ops/restoreDrill.js';
import type { RepairSnapshotsResult } from '../../src/ops/repairSnapshots.js';
import type { PruneResult } from '../../src/ops/prune.js';

/** The data packs of a repository (not the tree packs), largest first. */
async function dataPacks(t: TestRepo): Promise<string[]> {
  const repo = await openRepo(t);
  try {
    const view = await IndexView.load(repo);
    return [...view.packs.values()].filter((p) => p.blobs.every((b) => b.type === 'data')).sort((a, b) => b.size - a.size).map((p) => p.id);
  } finally {
    await repo.close();
  }
}

describe('check, restore drill and repair snapshots', () => {
  let t: TestRepo;
  let versions: Version[];
  const copies: TestRepo[] = [];

  before(async () => {
    t = await smallRepo();
    versions = await backupVersions(t, t.path('shop'), 3);
  });
  after(async () => {
    for (const c of copies) await c.cleanup();
    await t?.cleanup();
  });

  test('a good repository: check is clean, part N/M of --read-data-subset together read every pack, the restore drill passes', async () => {
    const one = parseJson<CheckReport>(expectCode(await t.run(['check', '--read-data-subset', '1/2', '--json']), 0));
    const two = parseJson<CheckReport>(expectCode(await t.run(['check', '--read-data-subset', '2/2', '--json']), 0));
    assert.deepEqual([one.ok, one.errors, two.ok, two.errors], [true, [], true, []]);
    assert.equal(one.readData!.packs + two.readData!.packs, one.packs, 'the two halves cover every pack');
    assert.equal(one.snapshots, 3);
    const drill = parseJson<DrillReport>(expectCode(await t.run(['check', '--restore', '--json']), 0));
    assert.equal(drill.passed, true);
    assert.equal(drill.snapshot, versions[2]!.id);
    const files = drill.steps[0]!;
    assert.equal(files.name, 'files');
    assert.ok(files.checked >= versions[2]!.files.size, `${files.checked} entries compared`);
    assert.deepEqual(files.problems, []);
    assert.deepEqual((await fsp.readdir(t.path())).filter((n) => n.startsWith('ocvault-drill-')), [], 'nothing left behind');
  });

  test('a flipped byte in a data pack: check --read-data names the pack, the snapshots and exactly the files that cannot be restored', async () => {
    const c = await t.copy();
    copies.push(c);
    const [pack] = await dataPacks(c);
    const file = (await packFiles(c.repo)).get(pack!)!;
    const bytes = await fsp.readFile(file);
    bytes[10]! ^= 0x40; // inside the first blob of the pack
    await fsp.writeFile(file, bytes);

    const r = parseJson<CheckReport>(expectCode(await c.run(['check', '--read-data', '--json']), 1));
    assert.equal(r.ok, false);
    assert.ok(r.errors.some((e) => e.kind === 'pack' && e.object === pack && /does not match its name/.test(e.message)), JSON.stringify(r.errors));
    const d = r.damage.find((x) => x.pack === pack)!;
    assert.ok(d, 'damage listed under the pack');
    assert.equal(d.blobs.length, 1, 'one blob damaged');
    assert.ok(d.snapshots.length >= 1);
    // independently: a file named there does not restore, one not named does
    const hit = d.snapshots[0]!;
    const named = hit.files[0]!;
    const repo = await openRepo(c, { cacheDir: c.path('cache2') });
    try {
      await assert.rejects(restore(repo, { snapshot: hit.id, target: c.path('r1'), includes: [named] }), (e: Error) => e.message.includes(pack!));
      const version = versions.find((v) => v.id === hit.id)!;
      const other = [...version.files.keys()].find((f) => !hit.files.includes(f))!;
      const got = await restoredFiles(repo, hit.id, c.path('r2'), [other]);
      assert.equal(got.get(other), version.files.get(other));
    } finally {
      await repo.close();
    }
  });

  test('a deleted pack: check names it and the damage; the drill fails; repair snapshots --forget + prune make the repository clean again', async () => {
    const c = await t.copy();
    copies.push(c);
    const [pack] = await dataPacks(c);
    await fsp.rm((await packFiles(c.repo)).get(pack!)!);

    const r = parseJson<CheckReport>(expectCode(await c.run(['check', '--json']), 1));
    assert.ok(r.errors.some((e) => e.kind === 'pack' && e.object === pack && /is missing/.test(e.message)), JSON.stringify(r.errors));
    const d = r.damage.find((x) => x.pack === pack)!;
    assert.ok(d.blobs.length > 0);
    const latest = versions[2]!;
    const lost = d.snapshots.find((s) => s.id === latest.id)?.files ?? [];

    const drill = parseJson<DrillReport>(expectCode(await c.run(['check', '--restore', latest.id.slice(0, 10), '--json']), 1));
    assert.equal(drill.passed, false);
    if (lost.length > 0) assert.match(drill.steps[0]!.problems.join('\n'), new RegExp(pack!.slice(0, 16)));

    const rep = parseJson<RepairSnapshotsResult>(expectCode(await c.run(['repair', 'snapshots', '--forget', '--json']), 0));
    assert.deepEqual(rep.repaired.map((x) => x.original).sort(), d.snapshots.map((s) => s.id).sort(), 'exactly the damaged snapshots are repaired');
    for (const x of rep.repaired) {
      assert.ok(x.repaired && x.forgotten);
      const damaged = d.snapshots.find((s) => s.id === x.original)!.files;
      assert.deepEqual(x.changes.map((ch) => ch.path).sort(), damaged, 'the repair touches the files check named');
    }
    const snaps = await c.snapshots();
    assert.equal(snaps.length, 3);
    assert.ok(snaps.filter((s) => s.tags.includes('repaired')).length === rep.repaired.length);

    const pr = parseJson<PruneResult>(expectCode(await c.run(['prune', '--json']), 0));
    assert.equal(pr.packs.droppedFromIndex, 1, 'the missing pack leaves the index');
    const after = parseJson<CheckReport>(expectCode(await c.run(['check', '--json']), 0));
    assert.deepEqual([after.ok, after.errors], [true, []]);

    // the repaired latest snapshot restores every file check did not name, byte for byte
    const repaired = rep.repaired.find((x) => x.original === latest.id)?.repaired ?? latest.id;
    const repo = await openRepo(c);
    try {
      const got = await restoredFiles(repo, repaired, c.path('restored'));
      for (const [f, h] of latest.files) if (!lost.includes(f)) assert.equal(got.get(f), h, f);
    } finally {
      await repo.close();
    }
  });

  test('a truncated index segment: check (with an empty cache) names it; prune refuses to run', async () => {
    const c = await t.copy();
    copies.push(c);
    const [seg] = (await fsp.readdir(path.join(c.repo, 'index'))).sort();
    await fsp.truncate(path.join(c.repo, 'index', seg!), 40);
    const r = parseJson<CheckReport>(expectCode(await c.run(['check', '--json']), 1));
    assert.ok(r.errors.some((e) => e.kind === 'index' && e.object === `index/${seg}`), JSON.stringify(r.errors));
    assert.ok(r.info.some((i) => i.kind === 'orphan-pack' && /repair index/.test(i.message)), 'its packs are named as unindexed');
    const p = expectCode(await c.run(['prune']), 1);
    assert.match(p.stderr, new RegExp(`index/${seg}`));
  });
});
