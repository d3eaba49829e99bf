/**
 * `copy` between repositories with their own keys and chunk sizes: content is cut again by the
 * target's chunker, restores byte-exact, nothing is copied twice, an incremental copy reuses
 * what its parent's copy holds, database tables come along; and `ocvault copy` into an S3 store.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Repository } from '../../src/repo/repository.js';
import { LocalBackend } from '../../src/storage/LocalBackend.js';
import { backup } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';
import { copySnapshots, COPIED_FROM } from '../../src/ops/copy.js';
import { loadDatabaseManifest } from '../../src/ops/databaseSnapshot.js';
import { encodeTableManifest, ROW_FORMAT, type TableManifest } from '../../src/sources/mysql/index.js';
import { buildFixtureTree, compareTrees, MiB, removeTree, writeRandomFile } from '../helpers/tree.js';
import { expectCode, makeTempDir, parseJson, runOcvault } from '../helpers/cli.js';
import { S3Server } from '../helpers/s3server.js';

const work = await makeTempDir('ocv-copy-');
after(() => removeTree(work));

const SRC_PW = 'source-pw';
const DST_PW = 'target-pw';

async function openRepo(dir: string, password: string, cache: string): Promise<Repository> {
  return Repository.open(new LocalBackend(dir), { password, cacheDir: path.join(work, cache) });
}

async function restoreTo(dir: string, password: string, snap: string, target: string): Promise<void> {
  const r = await openRepo(dir, password, `restore-cache-${randomBytes(4).toString('hex')}`);
  try {
    await restore(r, { snapshot: snap, target, includes: [] });
  } finally {
    await r.close();
  }
}

describe('copy between repositories with their own keys', () => {
  const srcDir = path.join(work, 'src-repo');
  const dstDir = path.join(work, 'dst-repo');
  const data = path.join(work, 'data');
  const ids: string[] = [];

  before(async () => {
    // other chunk sizes in the target too: blob ids and boundaries both differ
    const a = await Repository.init(new LocalBackend(srcDir), { password: SRC_PW, cacheDir: path.join(work, 'ca'), configOverrides: { chunker: { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 } } });
    const b = await Repository.init(new LocalBackend(dstDir), { password: DST_PW, cacheDir: path.join(work, 'cb') });
    await b.close();
    await buildFixtureTree(data, { randomSize: 3 * MiB + 5 });
    ids.push((await backup(a, { paths: [data], kind: 'incremental', tags: ['one'], excludes: [] })).id);
    await a.close();
  });

  test('snapshots copy, re-chunked, and restore byte-exact from the target', async () => {
    const a = await openRepo(srcDir, SRC_PW, 'ca');
    const b = await openRepo(dstDir, DST_PW, 'cb');
    let result;
    try {
      result = await copySnapshots(a, b, { snapshots: [] });
    } finally {
      await a.close();
      await b.close();
    }
    assert.equal(result.rechunked, true);
    assert.equal(result.snapshots.length, 1);
    const [c] = result.snapshots;
    assert.equal(c!.skipped, false);
    assert.ok(c!.stats.rechunkedBytes >= 3 * MiB, `re-chunked ${c!.stats.rechunkedBytes} bytes`);
    const target = path.join(work, 'restored-1');
    await restoreTo(dstDir, DST_PW, c!.target, target);
    await compareTrees(data, target);
    const b2 = await openRepo(dstDir, DST_PW, 'cb-fresh');
    try {
      const copy = b2.resolveSnapshot(c!.target).snapshot;
      assert.equal(copy.meta?.[COPIED_FROM], ids[0]);
      assert.deepEqual(copy.tags, ['one']);
    } finally {
      await b2.close();
    }
  });

  test('copying again copies nothing; an incremental copy reuses what its parent copied', async () => {
    await writeRandomFile(path.join(data, 'new.bin'), 300 * 1024);
    const a = await openRepo(srcDir, SRC_PW, 'ca');
    ids.push((await backup(a, { paths: [data], kind: 'incremental', tags: [], excludes: [] })).id);
    const b = await openRepo(dstDir, DST_PW, 'cb');
    let result;
    try {
      result = await copySnapshots(a, b, { snapshots: [] });
    } finally {
      await a.close();
      await b.close();
    }
    assert.deepEqual(result.snapshots.map((s) => s.skipped), [true, false]);
    const inc = result.snapshots[1]!;
    assert.ok(inc.stats.reused > 0, 'unchanged directories or files were taken over');
    assert.ok(inc.stats.rechunkedBytes < 1 * MiB, `only the new file was read again, not ${inc.stats.rechunkedBytes} bytes`);
    const target = path.join(work, 'restored-2');
    await restoreTo(dstDir, DST_PW, inc.target, target);
    await compareTrees(data, target);
  });

  test('a database manifest is copied table by table, rows intact', async () => {
    const a = await openRepo(srcDir, SRC_PW, 'ca');
    const rows = randomBytes(700 * 1024);
    const workers = a.startWorkers();
    const writer = await workers.openStream('db');
    await writer.push(rows);
    const { content } = await writer.end();
    const table: TableManifest = {
      name: 'oc_product', engine: 'InnoDB', createStatement: 'CREATE TABLE `oc_product` (`id` int NOT NULL, PRIMARY KEY (`id`))',
      columns: [{ name: 'id', type: 'int(11)', kind: 'integer', nullable: false }], orderBy: ['id'], orderKey: 'PRIMARY',
      rowCount: 1, rowBytes: rows.length, checksum: 'ab'.repeat(32), rowData: content,
    };
    const tableId = (await a.saveBlob('tree', encodeTableManifest(table))).id;
    const info = {
      version: 1, rowFormat: ROW_FORMAT, database: 'shop', serverVersion: '10.11', charset: 'utf8mb4', collation: 'utf8mb4_general_ci', dumpedAt: new Date().toISOString(),
      locks: { strategy: 'snapshot', lockWaitMs: 0, allTablesLockedMs: 0, nonTransactionalTables: [], nonTransactionalLockedMs: 0, warnings: [] },
      views: [], triggers: [], routines: [], events: [],
    };
    const dbId = (await a.saveBlob('tree', Buffer.from(JSON.stringify({ version: 1, kind: 'database', info, tables: [tableId] })))).id;
    await a.flush();
    const base = a.resolveSnapshot(ids[1]!).snapshot;
    const snapId = await a.saveSnapshot({ ...base, time: new Date().toISOString(), parent: ids[1], database: dbId });
    const b = await openRepo(dstDir, DST_PW, 'cb');
    try {
      const result = await copySnapshots(a, b, { snapshots: [snapId.slice(0, 10)] });
      const copied = result.snapshots[0]!;
      assert.equal(copied.skipped, false);
      const copy = b.resolveSnapshot(copied.target).snapshot;
      assert.notEqual(copy.database, dbId, 'the target names the manifest by its own keys');
      const m = await loadDatabaseManifest(b, copy.database!);
      assert.equal(m.tables[0]!.name, 'oc_product');
      const back = Buffer.concat(await Promise.all(m.tables[0]!.rowData.map((id) => b.loadBlob(id))));
      assert.ok(back.equals(rows), 'row bytes are the same');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('ocvault copy into an S3 repository, then restore from it with an empty cache', { timeout: 120_000 }, async () => {
    const s3 = await S3Server.start();
    try {
      const url = s3.url('mirror', 'shop');
      const env = { ...s3.env(), OCVAULT_CACHE_DIR: path.join(work, 'cli-cache'), HOME: work };
      expectCode(await runOcvault(['-r', url, 'init'], { env: { ...env, OCVAULT_PASSWORD: DST_PW } }), 0);
      const pwFile = path.join(work, 'to-pw');
      await fsp.writeFile(pwFile, DST_PW + '\n');
      const r = parseJson<{ snapshots: { source: string; target: string; skipped: boolean }[] }>(
        expectCode(await runOcvault(['-r', srcDir, 'copy', ids[0]!.slice(0, 8), '--to', url, '--to-password-file', pwFile, '--json'], { env: { ...env, OCVAULT_PASSWORD: SRC_PW } }), 0),
      );
      assert.equal(r.snapshots.length, 1);
      const target = path.join(work, 'restored-s3');
      expectCode(await runOcvault(['-r', url, 'restore', r.snapshots[0]!.target, '--target', target], { env: { ...env, OCVAULT_PASSWORD: DST_PW, OCVAULT_CACHE_DIR: path.join(work, 'empty-cache') } }), 0);
      const expected = path.join(work, 'restored-s3-expected');
      await restoreTo(srcDir, SRC_PW, ids[0]!, expected);
      await compareTrees(expected, target);
    } finally {
      await s3.dispose();
    }
  });
});
