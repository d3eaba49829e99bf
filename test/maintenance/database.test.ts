import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { MemoryBackend } from '../../src/storage/MemoryBackend.js';
import { Repository } from '../../src/repo/repository.js';
import type { Snapshot } from '../../src/repo/snapshot.js';
import { encodeRowGroup, encodeTableManifest, splitRowGroups, type TableManifest } from '../../src/sources/mysql/index.js';
import { decodeStoredDatabase } from '../../src/ops/databaseSnapshot.js';
import { prune } from '../../src/ops/prune.js';
import { check } from '../../src/ops/check.js';
import { repairSnapshots } from '../../src/ops/repairSnapshots.js';
import { SMALL } from './fixtures.js';

function table(name: string, rowData: string[]): TableManifest {
  return {
    name, engine: 'InnoDB', createStatement: `CREATE TABLE \`${name}\` (id int)`, columns: [{ name: 'id', type: 'int(11)', kind: 'integer', nullable: false }],
    orderBy: ['id'], orderKey: 'PRIMARY', rowCount: rowData.length, rowBytes: 0, checksum: '0'.repeat(64), rowData,
  };
}

/** Prune, check and repair follow a snapshot's database: stored database → table manifests → (row groups →) rows. */
test('database references: prune keeps table rows and row groups, check maps damage to tables, repair leaves a damaged table out', async () => {
  const backend = new MemoryBackend();
  const cache = await mkdtemp(path.join(tmpdir(), 'ocv-maint-db-'));
  const repo = await Repository.init(backend, { password: 'pw', cacheDir: cache, configOverrides: SMALL });
  try {
    const rowsA = [];
    for (let i = 0; i < 3; i++) rowsA.push((await repo.saveBlob('data', randomBytes(100_000))).id);
    // oc_c: a big table, its row ids in row-group blobs, which get a pack of their own
    const rowsC = [];
    for (let i = 0; i < 60; i++) rowsC.push((await repo.saveBlob('data', randomBytes(2_000))).id);
    const junk = (await repo.saveBlob('data', randomBytes(50_000))).id;
    await repo.flush();
    const newPack = async (before: Set<string>): Promise<string> => (await backend.list('data')).map((o) => o.name).find((n) => !before.has(n))!;
    const packsBefore = new Set((await backend.list('data')).map((o) => o.name));
    const rowsB = [(await repo.saveBlob('data', randomBytes(200_000))).id];
    await repo.flush();
    const packB = await newPack(packsBefore);
    packsBefore.add(packB);
    const groups = [];
    for (const g of splitRowGroups(rowsC)) groups.push((await repo.saveBlob('tree', encodeRowGroup(g))).id);
    await repo.flush();
    const packGroups = await newPack(packsBefore);
    const ta = (await repo.saveBlob('tree', encodeTableManifest(table('oc_a', rowsA)))).id;
    const tb = (await repo.saveBlob('tree', encodeTableManifest(table('oc_b', rowsB)))).id;
    const { rowData: _rows, ...c } = table('oc_c', rowsC);
    const tc = (await repo.saveBlob('tree', encodeTableManifest({ ...c, rowGroups: groups }))).id;
    const db = (await repo.saveBlob('tree', Buffer.from(JSON.stringify({ version: 1, kind: 'database', info: { database: 'shop' }, tables: [ta, tb, tc] })))).id;
    await repo.flush();
    const snap: Snapshot = {
      version: 1, time: '2024-06-01T00:00:00Z', host: 'h', user: 'u', kind: 'full', tags: [], paths: [], database: db,
      stats: { files: 0, dirs: 0, bytes: 0, newFiles: 0, changedFiles: 0, unchangedFiles: 0, addedBytes: 0, addedBlobs: 0, durationMs: 0, errors: 0 },
    };
    const id = await repo.saveSnapshot(snap);

    const p = await prune(repo, { maxUnused: { percent: 0 } });
    const used = rowsA.length + rowsB.length + rowsC.length + groups.length + 4;
    assert.deepEqual([p.blobs.used, p.blobs.unused], [used, 1], 'rows, row groups, three table manifests and the database manifest are used; only the junk is not');
    assert.equal(repo.hasBlob(junk), false);
    for (const r of [...rowsA, ...rowsB, ...rowsC, ...groups]) assert.deepEqual((await repo.loadBlob(r)).length > 0, true);
    const good = await check(repo, { readData: { all: true } });
    assert.deepEqual([good.ok, good.referencedBlobs], [true, used]);

    await backend.remove('data', packB);
    await backend.remove('data', packGroups);
    const bad = await check(repo);
    assert.equal(bad.ok, false);
    const d = bad.damage.find((x) => x.pack === packB)!;
    assert.deepEqual(d.snapshots.map((s) => [s.id, s.files]), [[id, ['[database]/oc_b']]]);
    const g = bad.damage.find((x) => x.pack === packGroups)!;
    assert.deepEqual(g.snapshots.map((s) => [s.id, s.files]), [[id, ['[database]/oc_c']]], 'a lost row group loses its table');
    assert.ok(bad.errors.some((e) => e.kind === 'tree' && /^row group [0-9a-f]{12} of table oc_c cannot be read/.test(e.message)), JSON.stringify(bad.errors));

    const r = await repairSnapshots(repo, { forget: true });
    assert.deepEqual(r.repaired.map((x) => x.changes.map((c) => c.path)), [['[database]/oc_b', '[database]/oc_c']]);
    const repaired = repo.resolveSnapshot(r.repaired[0]!.repaired!).snapshot;
    assert.deepEqual(decodeStoredDatabase(await repo.loadBlob(repaired.database!), repaired.database!).tables, [ta]);
    assert.ok(repaired.tags.includes('repaired'));
    await prune(repo);
    assert.equal((await check(repo)).ok, true);
  } finally {
    await repo.close();
    await rm(cache, { recursive: true, force: true });
  }
});
