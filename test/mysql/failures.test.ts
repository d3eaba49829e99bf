import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { isOcvaultError, type OcvaultError } from '../../src/errors/OcvaultError.js';
import { dumpDatabase } from '../../src/sources/mysql/dumpDatabase.js';
import { openDumpSession } from '../../src/sources/mysql/dumper.js';
import { loadDatabase } from '../../src/sources/mysql/loader.js';
import type { DatabaseManifest } from '../../src/sources/mysql/manifest.js';
import { startTestServer, type TestServer } from '../helpers/mariadb.js';
import { MemoryRows } from './memoryRows.js';

let server: TestServer;
const SRC = 'shop';
const PASSWORD = 'Wr0ng-s3cret-pässword';

before(async () => {
  server = await startTestServer();
  await server.createDatabase(SRC);
  const q = (sql: string): Promise<unknown> => server.query(sql, [], SRC);
  await q('CREATE TABLE big (id INT PRIMARY KEY, payload VARCHAR(200)) ENGINE=InnoDB');
  await q("INSERT INTO big SELECT seq, REPEAT('x', 150) FROM seq_1_to_100000");
  await q('CREATE TABLE small (id INT PRIMARY KEY) ENGINE=InnoDB');
  await q('INSERT INTO small VALUES (1), (2), (3)');
  await q('CREATE TABLE legacy (id INT PRIMARY KEY, v INT) ENGINE=MyISAM');
  await q('INSERT INTO legacy VALUES (1, 1)');
});

after(async () => {
  await server?.stop();
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 1));
    });
  });
}

const isDatabaseError = (pattern: RegExp) => (e: unknown): boolean => {
  assert.ok(isOcvaultError(e, 'DatabaseError'), `expected a DatabaseError, got ${String(e)}`);
  assert.match((e as OcvaultError).message, pattern);
  assert.ok(!(e as OcvaultError).message.includes(PASSWORD), 'the message must not contain the password');
  assert.ok(!JSON.stringify((e as OcvaultError).toJSON()).includes(PASSWORD), 'the error data must not contain the password');
  return true;
};

test('an unreachable server is a clear DatabaseError naming the database', async () => {
  const port = await freePort();
  const target = { ...server.target(SRC, 'tcp'), port, password: PASSWORD };
  await assert.rejects(dumpDatabase(target, new MemoryRows().openSink), isDatabaseError(/database "shop" on 127\.0\.0\.1:\d+.*connection refused/));
  const socket = { ...server.target(SRC), socket: '/nonexistent/mysqld.sock', password: PASSWORD };
  await assert.rejects(dumpDatabase(socket, new MemoryRows().openSink), isDatabaseError(/socket does not exist/));
});

test('a wrong password is a clear DatabaseError without the password', async () => {
  const target = { ...server.target(SRC, 'tcp'), password: PASSWORD };
  await assert.rejects(dumpDatabase(target, new MemoryRows().openSink), isDatabaseError(/access denied for user "ocvault".*wrong user name or password/));
  const empty: DatabaseManifest = {
    version: 1, rowFormat: 'ocvault-rows-v1', database: 'x', serverVersion: '', charset: '', collation: '', dumpedAt: new Date().toISOString(),
    locks: { strategy: 'snapshot', lockWaitMs: 0, allTablesLockedMs: 0, nonTransactionalTables: [], nonTransactionalLockedMs: 0, warnings: [] },
    tables: [], views: [], triggers: [], routines: [], events: [],
  };
  await assert.rejects(loadDatabase({ ...target, database: 'other' }, empty, new MemoryRows().rows), isDatabaseError(/access denied/));
});

test('a dump connection killed mid-table is a DatabaseError naming the table, and nothing stays locked', async () => {
  const mem = new MemoryRows();
  let killed = false;
  const openSink: typeof mem.openSink = (table) => {
    const inner = mem.openSink(table);
    return {
      write: async (bytes) => {
        if (table.name === 'big' && !killed) {
          killed = true;
          const [row] = await server.query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT % FROM `big`%'");
          assert.ok(row, 'the dump query is running');
          await server.query(`KILL ${Number(row.id)}`);
        }
        inner.write(bytes);
      },
      end: () => inner.end(),
    };
  };
  await assert.rejects(dumpDatabase(server.target(SRC), openSink, { parallel: 2, chunkBytes: 64 << 10 }), isDatabaseError(/connection to database "shop".* was lost during dump of table `big`/));
  assert.ok(killed);
  // every dump connection is gone and the MyISAM read lock with them: a write goes through
  await server.query('SET SESSION lock_wait_timeout = 5');
  await server.query('UPDATE legacy SET v = v + 1', [], SRC);
  await new Promise((r) => setTimeout(r, 200));
  const left = await server.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = 'shop' AND ID <> CONNECTION_ID() AND COMMAND <> 'Killed'");
  assert.ok(Number(left[0]?.n) <= 1, 'only the helper connection is left');
});

test('a table altered after the snapshot is a DatabaseError naming it', async () => {
  const session = await openDumpSession(server.target(SRC), { parallel: 2 });
  await server.query('ALTER TABLE small ADD COLUMN note VARCHAR(10)', [], SRC);
  await assert.rejects(session.dumpTable('small', () => undefined), isDatabaseError(/table `small` of database "shop".* was altered while it was being dumped/));
  await assert.rejects(session.finish(), isDatabaseError(/altered/));
});

test('a table dropped after the snapshot is a DatabaseError naming it', async () => {
  await server.query('CREATE TABLE doomed (id INT PRIMARY KEY) ENGINE=InnoDB', [], SRC);
  const session = await openDumpSession(server.target(SRC), { parallel: 2 });
  await server.query('DROP TABLE doomed', [], SRC);
  await assert.rejects(session.dumpTable('doomed', () => undefined), isDatabaseError(/`doomed`.*(disappeared|altered)/));
});

test('a failing sink aborts the dump with its own error', async () => {
  const boom = new Error('disk full');
  await assert.rejects(dumpDatabase(server.target(SRC), () => ({ write: () => Promise.reject(boom), end: async () => [] })), (e) => e === boom);
});

test('a restore whose data does not match the manifest names the table', async () => {
  const mem = new MemoryRows();
  const manifest = await dumpDatabase(server.target(SRC), mem.openSink, { tables: ['small', 'legacy'] });
  const wrongChecksum = structuredClone(manifest);
  const small = wrongChecksum.tables.find((t) => t.name === 'small');
  assert.ok(small);
  small.checksum = 'f'.repeat(64);
  await assert.rejects(loadDatabase(server.target('restore1'), wrongChecksum, mem.rows), isDatabaseError(/restored database "restore1".* table `small` differs/));
  const missingRow = structuredClone(manifest);
  const s2 = missingRow.tables.find((t) => t.name === 'small');
  assert.ok(s2);
  s2.rowCount += 1;
  await assert.rejects(loadDatabase(server.target('restore2'), missingRow, mem.rows), isDatabaseError(/table `small` .* took 3 rows, the snapshot holds 4/));
});
