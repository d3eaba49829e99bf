/**
 * A day of trading in miniature, on a real MariaDB: the backup after a few changed, added and
 * deleted orders stores the row groups around those rows and shares every other group with the
 * first backup; forgetting the first and pruning leaves the second whole; a copy into another
 * repository (own keys, or shared ones) restores; and a snapshot whose manifest lists its row
 * ids inline, as every manifest did before row groups, still restores.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { TestRepo, type BackupResult } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/mariadb.js';
import { LocalBackend } from '../../src/storage/LocalBackend.js';
import { Repository } from '../../src/repo/repository.js';
import { decodeStoredDatabase, loadDatabaseManifest } from '../../src/ops/databaseSnapshot.js';
import { decodeTableManifest, encodeTableManifest, type StoredTableManifest } from '../../src/sources/mysql/index.js';

let server: TestServer;
let repo: TestRepo;
/** a repository with the same keys as `repo` (a copy of it made before any backup) */
let twin: TestRepo;
let other: TestRepo;
const DB = 'shop';
const ORDERS = 60_000;

before(async () => {
  server = await startTestServer();
  await server.createDatabase(DB);
  await server.query('CREATE TABLE oc_order (order_id INT NOT NULL PRIMARY KEY, customer_id INT NOT NULL, order_status_id INT NOT NULL, total DECIMAL(15,4) NOT NULL, comment VARCHAR(255) NOT NULL) ENGINE=InnoDB', [], DB);
  await server.query(`INSERT INTO oc_order SELECT seq, seq % 977, 1, seq * 1.25, CONCAT('order ', MD5(seq), ' ', REPEAT('x', seq % 200)) FROM seq_1_to_${ORDERS}`, [], DB);
  await server.query('CREATE TABLE oc_setting (setting_id INT NOT NULL PRIMARY KEY, `key` VARCHAR(64) NOT NULL, value TEXT NOT NULL)', [], DB);
  await server.query("INSERT INTO oc_setting SELECT seq, CONCAT('config_', seq), REPEAT('v', seq) FROM seq_1_to_20", [], DB);
  repo = await TestRepo.create();
  // a repository copied as files and given an id of its own: same keys, so copy keeps blob ids
  twin = await repo.copy();
  const config = JSON.parse(await fsp.readFile(twin.path('repo', 'config'), 'utf8')) as { id: string };
  await fsp.writeFile(twin.path('repo', 'config'), JSON.stringify({ ...config, id: randomBytes(16).toString('hex') }));
  other = await TestRepo.create();
});

after(async () => {
  await server?.stop();
  await Promise.all([repo?.cleanup(), twin?.cleanup(), other?.cleanup()]);
});

async function withRepo<T>(t: TestRepo, fn: (r: Repository) => Promise<T>): Promise<T> {
  const r = await Repository.open(new LocalBackend(t.repo), { password: t.password, cacheDir: t.cache });
  try {
    return await fn(r);
  } finally {
    await r.close();
  }
}

/** The stored manifests of a snapshot's tables, by name, as they lie in the repository. */
async function storedTables(r: Repository, snap: string): Promise<Map<string, StoredTableManifest & { id: string }>> {
  const db = r.resolveSnapshot(snap).snapshot.database!;
  const out = new Map<string, StoredTableManifest & { id: string }>();
  for (const id of decodeStoredDatabase(await r.loadBlob(db), db).tables) {
    const t = decodeTableManifest(await r.loadBlob(id), id);
    out.set(t.name, { ...t, id });
  }
  return out;
}

/** Restores a snapshot's database into a new database and compares CHECKSUM TABLE with the source. */
async function assertRestores(t: TestRepo, snap: string, into: string): Promise<void> {
  await t.ok(['restore', snap, '--db', server.url(into), '--db-only']);
  assert.deepEqual([...(await server.checksums(into)).entries()], [...(await server.checksums(DB)).entries()]);
}

describe('database backups over a day of trading', () => {
  const snaps: BackupResult[] = [];

  test('the second backup stores the row groups around the changes; the others are shared', async () => {
    snaps.push(await repo.backup([], ['--db', server.url(DB)]));
    // a few scattered changes, new orders at the end, one deleted
    await server.query('UPDATE oc_order SET order_status_id = 5 WHERE order_id IN (7000, 29000, 51000)', [], DB);
    await server.query(`INSERT INTO oc_order SELECT seq, 1, 1, 9.99, 'new' FROM seq_${ORDERS + 1}_to_${ORDERS + 100}`, [], DB);
    await server.query('DELETE FROM oc_order WHERE order_id = 40000', [], DB);
    snaps.push(await repo.backup([], ['--db', server.url(DB)]));

    await withRepo(repo, async (r) => {
      const [a, b] = [await storedTables(r, snaps[0]!.id), await storedTables(r, snaps[1]!.id)];
      assert.ok(a.get('oc_setting')!.rowData, 'a small table keeps its ids inline');
      const [before, after] = [a.get('oc_order')!.rowGroups!, b.get('oc_order')!.rowGroups!];
      assert.ok(before.length >= 30, `${before.length} groups, ${a.get("oc_order")!.rowBytes} bytes`);
      const fresh = after.filter((g) => !new Set(before).has(g));
      // each of the four edits rewrites its group (or two, when it moves a boundary); the end grows
      assert.ok(fresh.length <= 10, `${fresh.length} of ${after.length} groups new`);
      // what the id list cost this time (stored: sealed, compressed), against its JSON written whole as before row groups
      const groupsAndManifest = [...fresh, b.get('oc_order')!.id].reduce((n, id) => n + r.locate(id).length, 0);
      const whole = (await loadDatabaseManifest(r, r.resolveSnapshot(snaps[1]!.id).snapshot.database!)).tables.find((t) => t.name === 'oc_order')!;
      const inline = encodeTableManifest(whole).length;
      assert.ok(groupsAndManifest < inline / 4, `${groupsAndManifest} bytes stored for the id list, ${inline} bytes inline`);
    });
  });

  test('a manifest with its row ids inline (written before row groups) restores and checks', async () => {
    const second = snaps[1]!.id;
    const old = await withRepo(repo, async (r) => {
      const m = await loadDatabaseManifest(r, r.resolveSnapshot(second).snapshot.database!);
      const tables: string[] = [];
      for (const t of m.tables) tables.push((await r.saveBlob('tree', encodeTableManifest(t))).id);
      const { tables: _t, ...info } = m;
      const db = (await r.saveBlob('tree', Buffer.from(JSON.stringify({ version: 1, kind: 'database', info, tables })))).id;
      await r.flush();
      const snap = r.resolveSnapshot(second).snapshot;
      assert.ok((await storedTables(r, second)).get('oc_order')!.rowGroups);
      return r.saveSnapshot({ ...snap, time: new Date(Date.parse(snap.time) + 1000).toISOString(), database: db, tags: ['inline'] });
    });
    await withRepo(repo, async (r) => assert.equal((await storedTables(r, old)).get('oc_order')!.rowGroups, undefined));
    await assertRestores(repo, old, 'shop_inline');
    await repo.ok(['check']);
    await repo.ok(['forget', old]);
  });

  test('forgetting the first backup and pruning leaves the second whole: it restores, check passes', async () => {
    await repo.ok(['forget', snaps[0]!.id]);
    // no unused space tolerated: every blob only the first backup used is gone
    const pruned = await repo.json<{ blobs: { unused: number }; bytes: { freed: number } }>(['prune', '--max-unused', '0', '--json']);
    assert.ok(pruned.blobs.unused > 0 && pruned.bytes.freed > 0, JSON.stringify(pruned));
    await repo.ok(['check', '--read-data']);
    await assertRestores(repo, snaps[1]!.id, 'shop_pruned');
  });

  for (const [name, target] of [['own keys', () => other], ['shared keys', () => twin]] as const) {
    test(`a copy into a repository with ${name} restores`, async () => {
      const pw = target().path('to-password');
      await fsp.writeFile(pw, target().password);
      const copied = await repo.json<{ rechunked: boolean; snapshots: { target: string }[] }>(['copy', snaps[1]!.id, '--to', target().repo, '--to-password-file', pw, '--json']);
      assert.equal(copied.rechunked, name === 'own keys');
      const snap = copied.snapshots[0]!.target;
      await withRepo(target(), async (r) => assert.ok((await storedTables(r, snap)).get('oc_order')!.rowGroups, 'the copy stores row groups too'));
      await target().ok(['check', '--read-data']);
      await assertRestores(target(), snap, `shop_copy_${name.replace(' ', '_')}`);
    });
  }
});
