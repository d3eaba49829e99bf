import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { dumpDatabase } from '../../src/sources/mysql/dumpDatabase.js';
import { loadDatabase } from '../../src/sources/mysql/loader.js';
import type { DatabaseManifest } from '../../src/sources/mysql/manifest.js';
import { decodeRows } from '../../src/sources/mysql/rowDecoder.js';
import { writeSqlDump } from '../../src/sources/mysql/sqlWriter.js';
import { startTestServer, type TestServer } from '../helpers/mariadb.js';
import { MemoryRows } from './memoryRows.js';

let server: TestServer;
const SRC = 'edge';
const mem = new MemoryRows();
let manifest: DatabaseManifest;

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

before(async () => {
  server = await startTestServer();
  await server.createDatabase(SRC);
  const q = (sql: string, params: unknown[] = []): Promise<unknown> => server.query(sql, params, SRC);
  await q("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00'");
  await q(`CREATE TABLE edge (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    d DATE, dt DATETIME, dt6 DATETIME(6), ts6 TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), y YEAR,
    dec65 DECIMAL(65,30), bu BIGINT UNSIGNED, bs BIGINT, f FLOAT, f2 FLOAT(10,2), db DOUBLE,
    b1 BIT(1), b10 BIT(10), b64 BIT(64),
    bl LONGBLOB, tb TINYBLOB, bin4 BINARY(4), vb VARBINARY(300),
    u VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, u3 TEXT CHARACTER SET utf8mb3, l1 VARCHAR(100) CHARACTER SET latin1,
    c5 CHAR(5), j JSON, en ENUM('a','b','é'), st SET('x','y','z'),
    g POINT, ip INET6, uu UUID,
    hid INT INVISIBLE DEFAULT 7,
    gv INT AS (hid * 2) VIRTUAL, gp VARCHAR(20) AS (CONCAT('p', hid)) PERSISTENT
  ) ENGINE=InnoDB AUTO_INCREMENT=1000 DEFAULT CHARSET=utf8mb4`);
  await q(`INSERT INTO edge (id, d, dt, dt6, ts6, tm, y, dec65, bu, bs, f, f2, db, b1, b10, b64, bl, tb, bin4, vb, u, u3, l1, c5, j, en, st, g, ip, uu, hid) VALUES
    (0, '0000-00-00', '0000-00-00 00:00:00', '2024-02-29 23:59:59.999999', '2038-01-19 03:14:07.999999', '-838:59:59.000000', 0,
     '99999999999999999999999999999999999.999999999999999999999999999999', 18446744073709551615, -9223372036854775808,
     1.0000001, 12345678.91, 0.1, b'1', b'1010101010', 18446744073709551615,
     ?, '', x'00000000', x'5c4e', ?, ?, ?, 'ab  ', '{"a": [1, 2.5e300, "x\\\\ny"], "e": "😀"}', '', 'x,z',
     ST_GeomFromText('POINT(1 2)'), '::ffff:1.2.3.4', '123e4567-e89b-12d3-a456-426614174000', 42)`,
  [ALL_BYTES, '😀👍🏽 tab\there\nnew\\line \\N ', 'ünïcödé\r\n', Buffer.from([0x41, 0xe9, 0xff, 0x5c, 0x09, 0x0a, 0x00])]);
  await q(`INSERT INTO edge (id, d, dt, dt6, ts6, tm, y, dec65, bu, bs, f, f2, db, b1, b10, b64, bl, tb, bin4, vb, u, u3, l1, c5, j, en, st) VALUES
    (1, '9999-12-31', '9999-12-31 23:59:59', '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01.000000', '838:59:59.999999', 2155,
     '-99999999999999999999999999999999999.999999999999999999999999999999', 0, 9223372036854775807,
     3.4028235e38, -0.01, 1.7976931348623157e308, b'0', b'0', 0,
     '', NULL, 'ab', '', '', '', '', '', '[]', 'é', ''),
    (2, NULL, NULL, NULL, '0000-00-00 00:00:00', NULL, NULL, 0.000000000000000000000000000001, NULL, NULL,
     1.4e-45, NULL, 4.9e-324, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '\\\\N', NULL, NULL, NULL, 'null', NULL, NULL),
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1.17549435e-38, NULL, 2.2250738585072014e-308, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, 'NULL', NULL, NULL, NULL, NULL, NULL, NULL)`);
  // no key at all: duplicate rows and rows equal under the collation must still read back in one order
  await q('CREATE TABLE nokey (s VARCHAR(10), n INT, b BLOB) ENGINE=MyISAM DEFAULT CHARSET=utf8mb4');
  await q("INSERT INTO nokey VALUES ('a', 1, 'x'), ('A', 1, 'x'), ('a', 1, 'x'), ('á', NULL, NULL), (NULL, 2, ''), ('a ', 1, 'x')");
  // a unique NOT NULL key instead of a primary key
  await q('CREATE TABLE uniq (code VARCHAR(10) NOT NULL, v INT, UNIQUE KEY code (code)) ENGINE=Aria');
  await q("INSERT INTO uniq VALUES ('b', 2), ('a', 1), ('c', NULL)");
  // an empty table, and a table whose id 0 must stay 0
  await q('CREATE TABLE empty_t (id INT PRIMARY KEY) ENGINE=InnoDB');
});

after(async () => {
  await server?.stop();
});

test('edge values: dump, load, equal CHECKSUM TABLE and identical definitions', async () => {
  manifest = await dumpDatabase(server.target(SRC), mem.openSink);
  const edge = manifest.tables.find((t) => t.name === 'edge');
  assert.ok(edge);
  assert.deepEqual(edge.columns.map((c) => c.name).includes('gv'), false, 'generated columns are not dumped');
  assert.ok(edge.columns.some((c) => c.name === 'hid'), 'invisible columns are dumped');
  assert.equal(manifest.tables.find((t) => t.name === 'nokey')?.orderKey, '');
  assert.equal(manifest.tables.find((t) => t.name === 'uniq')?.orderKey, 'code');
  assert.equal(manifest.tables.find((t) => t.name === 'empty_t')?.rowCount, 0);

  await loadDatabase(server.target('edge_copy'), manifest, mem.rows);
  assert.deepEqual([...(await server.checksums('edge_copy')).entries()], [...(await server.checksums(SRC)).entries()]);
  for (const t of ['edge', 'nokey', 'uniq', 'empty_t']) {
    const [a] = await server.query(`SHOW CREATE TABLE \`${SRC}\`.\`${t}\``);
    const [b] = await server.query(`SHOW CREATE TABLE \`edge_copy\`.\`${t}\``);
    assert.equal(b?.['Create Table'], a?.['Create Table'], `definition of ${t}`);
  }
});

test('edge values: the row lines hold exact values', async () => {
  const edge = manifest.tables.find((t) => t.name === 'edge');
  assert.ok(edge);
  const rows: Array<Array<Buffer | null>> = [];
  for await (const r of decodeRows(mem.rows(edge))) rows.push(r);
  assert.equal(rows.length, 4);
  const col = (row: number, name: string): Buffer | null => rows[row]?.[edge.columns.findIndex((c) => c.name === name)] ?? null;
  const text = (row: number, name: string): string | undefined => col(row, name)?.toString('utf8');
  assert.equal(text(0, 'id'), '0');
  assert.equal(text(0, 'd'), '0000-00-00');
  assert.equal(text(0, 'dt6'), '2024-02-29 23:59:59.999999');
  assert.equal(text(0, 'ts6'), '2038-01-19 03:14:07.999999');
  assert.equal(text(0, 'dec65'), '99999999999999999999999999999999999.999999999999999999999999999999');
  assert.equal(text(0, 'bu'), '18446744073709551615');
  assert.equal(text(0, 'bs'), '-9223372036854775808');
  assert.equal(text(0, 'f'), '1.0000001192092896');
  assert.equal(text(0, 'db'), '0.1');
  assert.deepEqual(col(0, 'b10'), Buffer.from([0x02, 0xaa]));
  assert.deepEqual(col(0, 'bl'), ALL_BYTES);
  assert.deepEqual(col(0, 'tb'), Buffer.alloc(0));
  assert.deepEqual(col(0, 'vb'), Buffer.from('\\N'));
  assert.equal(text(0, 'u'), '😀👍🏽 tab\there\nnew\\line \\N ');
  assert.deepEqual(col(0, 'l1'), Buffer.from([0x41, 0xe9, 0xff, 0x5c, 0x09, 0x0a, 0x00]));
  assert.equal(text(1, 'tb'), undefined);
  assert.deepEqual(col(1, 'u'), Buffer.alloc(0), "'' stays ''");
  assert.equal(col(1, 'd')?.toString(), '9999-12-31');
  assert.equal(text(2, 'u'), '\\N', 'the string \\N is not NULL');
  assert.equal(col(2, 'd'), null);
  assert.equal(text(3, 'u'), 'NULL');
});

test('edge values: SQL export through the mariadb client gives equal CHECKSUM TABLE', async () => {
  await server.createDatabase('edge_sql', 'latin1');
  const parts: Buffer[] = [];
  await writeSqlDump(manifest, mem.rows, (b) => { parts.push(b); });
  await server.mariadbClient('edge_sql', Buffer.concat(parts));
  assert.deepEqual([...(await server.checksums('edge_sql')).entries()], [...(await server.checksums(SRC)).entries()]);
  const [a] = await server.query(`SHOW CREATE TABLE \`${SRC}\`.edge`);
  const [b] = await server.query('SHOW CREATE TABLE edge_sql.edge');
  assert.equal(b?.['Create Table'], a?.['Create Table']);
});

test('edge values: INSERT mode (server without local_infile) loads the same', async () => {
  await loadDatabase(server.target('edge_ins'), manifest, mem.rows, { mode: 'insert' });
  assert.deepEqual([...(await server.checksums('edge_ins')).entries()], [...(await server.checksums(SRC)).entries()]);
});
