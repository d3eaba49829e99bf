import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isOcvaultError } from '../../src/errors/OcvaultError.js';
import { dumpDatabase } from '../../src/sources/mysql/dumpDatabase.js';
import { loadDatabase, loadItems } from '../../src/sources/mysql/loader.js';
import { decodeDatabaseManifest, encodeDatabaseManifest, type DatabaseManifest } from '../../src/sources/mysql/manifest.js';
import { writeSqlDump } from '../../src/sources/mysql/sqlWriter.js';
import { startTestServer, type FixtureName, type TestServer } from '../helpers/mariadb.js';
import { MemoryRows } from './memoryRows.js';

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.stop();
});

/** Objects the fixtures lack, so their backup and restore is tested too. */
async function addObjects(db: string, prefix: string): Promise<void> {
  const q = (sql: string): Promise<unknown> => server.query(sql, [], db);
  await q(`CREATE VIEW v_order_total AS SELECT order_id, total FROM ${prefix}order`);
  await q('CREATE VIEW v_big_orders AS SELECT order_id FROM v_order_total WHERE total > 100');
  await q(`CREATE TRIGGER trg_review BEFORE INSERT ON ${prefix}review FOR EACH ROW SET NEW.author = CONCAT(NEW.author, ' ✓')`);
  await q(`CREATE PROCEDURE count_orders(OUT n INT) BEGIN SELECT COUNT(*) INTO n FROM ${prefix}order; SELECT n; END`);
  await q("CREATE FUNCTION greet(s VARCHAR(20)) RETURNS VARCHAR(40) DETERMINISTIC RETURN CONCAT('hi ', s)");
  await q(`CREATE EVENT ev_cleanup ON SCHEDULE EVERY 1 DAY DO DELETE FROM ${prefix}session WHERE expire < NOW()`);
}

async function assertObjects(db: string): Promise<void> {
  const names = async (sql: string): Promise<string[]> => (await server.query(sql, [db])).map((r) => String(r.n)).sort();
  assert.deepEqual(await names("SELECT TABLE_NAME AS n FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?"), ['v_big_orders', 'v_order_total']);
  assert.deepEqual(await names('SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?'), ['trg_review']);
  assert.deepEqual(await names('SELECT ROUTINE_NAME AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?'), ['count_orders', 'greet']);
  assert.deepEqual(await names('SELECT EVENT_NAME AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?'), ['ev_cleanup']);
  const [g] = await server.query("SELECT greet('x') AS g", [], db);
  assert.equal(g?.g, 'hi x');
}

async function assertSameChecksums(source: string, copy: string, expectedTables: number): Promise<void> {
  const a = await server.checksums(source);
  const b = await server.checksums(copy);
  assert.equal(a.size, expectedTables);
  assert.deepEqual([...b.entries()], [...a.entries()]);
}

for (const [fixture, prefix, tables, engine] of [
  ['opencart-4.1-demo', 'oc_', 159, 'InnoDB'],
  ['opencart-3.0-demo', 'oc_', 134, 'MyISAM'],
] as Array<[FixtureName, string, number, string]>) {
  describe(fixture, () => {
    const src = fixture.replace(/[^a-z0-9]/g, '_');
    const mem = new MemoryRows();
    let manifest: DatabaseManifest;

    before(async () => {
      await server.createDatabase(src);
      await server.loadFixture(fixture, src);
      await addObjects(src, prefix);
    });

    test('dumps every table with a binlog position and lock report', async () => {
      manifest = await dumpDatabase(server.target(src), mem.openSink, { parallel: 2 });
      // the manifest survives its own encoding
      manifest = decodeDatabaseManifest(encodeDatabaseManifest(manifest), 'test');
      assert.equal(manifest.tables.length, tables);
      assert.ok(manifest.tables.filter((t) => t.engine === engine).length >= tables - 2);
      assert.ok(manifest.binlog && /^binlog\.\d+$/.test(manifest.binlog.file) && manifest.binlog.position > 0);
      assert.equal(manifest.locks.strategy, 'lock-tables');
      assert.equal(manifest.locks.nonTransactionalTables.length, engine === 'MyISAM' ? 132 : 0);
      assert.equal(manifest.views.length, 2);
      assert.equal(manifest.triggers.length, 1);
      assert.equal(manifest.routines.length, 2);
      assert.equal(manifest.events.length, 1);
      const [count] = await server.query(`SELECT COUNT(*) AS n FROM ${prefix}product`, [], src);
      assert.equal(manifest.tables.find((t) => t.name === `${prefix}product`)?.rowCount, Number(count?.n));
    });

    test('loads into a new database with equal CHECKSUM TABLE, views, triggers, routines, events', async () => {
      const copy = `${src}_copy`;
      const result = await loadDatabase(server.target(copy), manifest, mem.rows, { parallel: 2 });
      assert.equal(result.mode, 'load-data');
      assert.equal(result.tables, tables);
      assert.equal(result.checks.length, tables);
      assert.ok(result.checks.every((c) => c.ok));
      await assertSameChecksums(src, copy, tables);
      await assertObjects(copy);
    });

    test('big tables load in parts over several connections, checksums equal', async () => {
      // small chunks and parts, so every table of more than a few KiB is split three ways
      const small = new MemoryRows();
      const m = await dumpDatabase(server.target(src), small.openSink, { parallel: 2, chunkBytes: 2048 });
      const split = new Set(loadItems(m.tables, 3, 1024).filter((i) => i.parts === 3).map((i) => i.table.name));
      if (engine === 'InnoDB') assert.ok(split.size >= 5, `only ${split.size} tables split`);
      else assert.equal(split.size, 0, 'MyISAM tables lock whole: never split');
      const copy = `${src}_parts`;
      const result = await loadDatabase(server.target(copy), m, small.rows, { parallel: 3, partBytes: 1024 });
      assert.equal(result.checks.length, tables);
      assert.ok(result.checks.every((c) => c.ok));
      await assertSameChecksums(src, copy, tables);
    });

    test('refuses a non-empty database, replaces it with force', async () => {
      const copy = `${src}_copy`;
      await assert.rejects(loadDatabase(server.target(copy), manifest, mem.rows), (e) => isOcvaultError(e, 'TargetNotEmpty') && /not empty/.test(e.message));
      await server.query(`INSERT INTO ${prefix}product_to_store VALUES (424242, 0)`, [], copy);
      await server.query('CREATE TABLE stray (x INT)', [], copy);
      const result = await loadDatabase(server.target(copy), manifest, mem.rows, { force: true });
      assert.ok(result.dropped >= tables + 1);
      await assertSameChecksums(src, copy, tables);
    });

    test('SQL export loads with the mariadb client and gives equal CHECKSUM TABLE', async () => {
      const copy = `${src}_sql`;
      await server.createDatabase(copy, 'latin1');
      const parts: Buffer[] = [];
      const r = await writeSqlDump(manifest, mem.rows, (b) => { parts.push(b); });
      assert.equal(r.tables, tables);
      await server.mariadbClient(copy, Buffer.concat(parts));
      await assertSameChecksums(src, copy, tables);
      await assertObjects(copy);
    });
  });
}
