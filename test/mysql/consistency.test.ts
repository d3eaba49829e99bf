import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2';
import { dumpDatabase } from '../../src/sources/mysql/dumpDatabase.js';
import { loadDatabase } from '../../src/sources/mysql/loader.js';
import type { TableSink } from '../../src/sources/mysql/dumpDatabase.js';
import { startTestServer, type TestServer } from '../helpers/mariadb.js';
import { MemoryRows } from './memoryRows.js';

let server: TestServer;
const SRC = 'busy';
const ORDERS = 20_000;

before(async () => {
  server = await startTestServer();
  await server.createDatabase(SRC);
  const q = (sql: string): Promise<unknown> => server.query(sql, [], SRC);
  for (const [prefix, engine] of [['i', 'InnoDB'], ['m', 'MyISAM']]) {
    await q(`CREATE TABLE ${prefix}_order (order_id INT AUTO_INCREMENT PRIMARY KEY, customer VARCHAR(40), total DECIMAL(15,4)) ENGINE=${engine}`);
    await q(`CREATE TABLE ${prefix}_order_line (line_id INT AUTO_INCREMENT PRIMARY KEY, order_id INT NOT NULL, product VARCHAR(64), qty INT, KEY order_id (order_id)) ENGINE=${engine}`);
    await q(`INSERT INTO ${prefix}_order (order_id, customer, total) SELECT seq, CONCAT('customer ', seq), seq * 1.5 FROM seq_1_to_${ORDERS}`);
    await q(`INSERT INTO ${prefix}_order_line (order_id, product, qty) SELECT o.seq, CONCAT('product ', l.seq, ' of order ', o.seq), l.seq FROM seq_1_to_${ORDERS} o, seq_1_to_3 l`);
  }
});

after(async () => {
  await server?.stop();
});

/** Inserts an order and its three lines as one unit, again and again, until stopped. */
function startWriter(prefix: 'i' | 'm'): { stop: () => Promise<number>; count: () => number } {
  const conn = mysql.createConnection({ socketPath: server.socket, user: server.server.user, password: server.server.password, database: SRC });
  let running = true;
  let n = 0;
  const q = (sql: string): Promise<void> => new Promise((res, rej) => conn.query(sql, (e) => (e ? rej(e) : res())));
  const [begin, end] = prefix === 'i' ? ['START TRANSACTION', 'COMMIT'] : ['LOCK TABLES m_order WRITE, m_order_line WRITE', 'UNLOCK TABLES'];
  const loop = (async () => {
    while (running) {
      await q(begin);
      await q(`INSERT INTO ${prefix}_order (customer, total) VALUES ('writer', 9.99)`);
      await q(`INSERT INTO ${prefix}_order_line (order_id, product, qty) VALUES (LAST_INSERT_ID(), 'a', 1), (LAST_INSERT_ID(), 'b', 2), (LAST_INSERT_ID(), 'c', 3)`);
      await q(end);
      n++;
    }
  })();
  return {
    count: () => n,
    stop: async () => {
      running = false;
      await loop;
      conn.end();
      return n;
    },
  };
}

/** Slows the dump down so the writers get to run while it is in progress. */
function slowSinks(mem: MemoryRows): (t: Parameters<MemoryRows['openSink']>[0]) => TableSink {
  return (table) => {
    const inner = mem.openSink(table);
    return { write: async (b) => { await new Promise((r) => setTimeout(r, 2)); inner.write(b); }, end: () => inner.end() };
  };
}

test('a dump under concurrent writers never holds an order without its lines (InnoDB and MyISAM)', async (t) => {
  const writers = { i: startWriter('i'), m: startWriter('m') };
  await new Promise((r) => setTimeout(r, 300));
  const before = { i: writers.i.count(), m: writers.m.count() };
  const mem = new MemoryRows();
  const started = performance.now();
  const manifest = await dumpDatabase(server.target(SRC), slowSinks(mem), { parallel: 2, chunkBytes: 16 << 10 });
  const dumpMs = performance.now() - started;
  const during = { i: writers.i.count() - before.i, m: writers.m.count() - before.m };
  t.diagnostic(`dump ${Math.round(dumpMs)} ms; orders written meanwhile: InnoDB ${during.i}, MyISAM ${during.m}; locks ${JSON.stringify(manifest.locks)}`);
  await writers.i.stop();
  await writers.m.stop();
  assert.ok(during.i > 0, 'the InnoDB writer kept committing while the dump ran');
  assert.deepEqual(manifest.locks.nonTransactionalTables, ['m_order', 'm_order_line']);
  assert.ok(manifest.locks.nonTransactionalLockedMs < dumpMs, 'MyISAM tables were unlocked before the dump ended');

  await loadDatabase(server.target('busy_copy'), manifest, mem.rows);
  for (const prefix of ['i', 'm']) {
    const [orphans] = await server.query(
      `SELECT (SELECT COUNT(*) FROM ${prefix}_order o WHERE (SELECT COUNT(*) FROM ${prefix}_order_line l WHERE l.order_id = o.order_id) <> 3) AS bad_orders, ` +
        `(SELECT COUNT(*) FROM ${prefix}_order_line l LEFT JOIN ${prefix}_order o USING (order_id) WHERE o.order_id IS NULL) AS bad_lines, ` +
        `(SELECT COUNT(*) FROM ${prefix}_order) AS orders`, [], 'busy_copy');
    assert.equal(Number(orphans?.bad_orders), 0, `${prefix}: every order has its 3 lines`);
    assert.equal(Number(orphans?.bad_lines), 0, `${prefix}: no line without its order`);
    assert.ok(Number(orphans?.orders) >= ORDERS + before[prefix as 'i' | 'm'], `${prefix}: orders written before the dump are in it`);
  }
});
