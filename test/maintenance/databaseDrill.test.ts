import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { startTestServer, type TestServer } from '../helpers/mariadb.js';
import { TestRepo, expectCode } from '../helpers/cli.js';

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.stop();
});

async function flipBytesInPacks(repoDir: string): Promise<number> {
  let n = 0;
  for (const dir of await fsp.readdir(path.join(repoDir, 'data'))) {
    for (const f of await fsp.readdir(path.join(repoDir, 'data', dir))) {
      const p = path.join(repoDir, 'data', dir, f);
      const b = await fsp.readFile(p);
      b[Math.floor(b.length / 3)]! ^= 0xff;
      await fsp.writeFile(p, b);
      n++;
    }
  }
  return n;
}

test('restore drill: a database snapshot passes in a temporary database and leaves nothing behind; damaged data fails it', async () => {
  const db = await server.createDatabase('shop');
  await server.query('CREATE TABLE oc_order (order_id INT PRIMARY KEY, total DECIMAL(15,4), comment TEXT)', [], db);
  const rows = Array.from({ length: 20000 }, (_, i) => `(${i + 1}, ${i}.5, REPEAT('x', ${50 + (i % 97)}))`).join(',');
  await server.query(`INSERT INTO oc_order VALUES ${rows}`, [], db);
  const repo = await TestRepo.create();
  try {
    await repo.ok(['backup', '--db', server.url(db)]);
    const good = expectCode(await repo.run(['check', '--restore', 'latest', '--db', server.url(db)]), 0);
    assert.match(good.stdout, /database: PASS/);
    assert.equal((await server.query("SHOW DATABASES LIKE 'ocvault_drill%'")).length, 0, 'the drill database is dropped');
    assert.equal(Number((await server.query('SELECT COUNT(*) AS n FROM oc_order', [], db))[0]!.n), 20000, 'the source is untouched');

    assert.ok((await flipBytesInPacks(repo.repo)) > 0);
    const bad = await repo.run(['check', '--restore', 'latest', '--db', server.url(db)]);
    assert.notEqual(bad.code, 0, 'a damaged repository fails the drill');
    assert.match(bad.stdout + bad.stderr, /FAIL|damaged/);
    assert.equal((await server.query("SHOW DATABASES LIKE 'ocvault_drill%'")).length, 0, 'nothing left behind after a failed drill');
  } finally {
    await repo.cleanup();
  }
});
