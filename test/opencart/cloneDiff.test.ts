/**
 * A staging clone at a new path, database and URL gets correctly rewritten configs and a
 * prepared database, and leaves the source files and database untouched; a diff after a
 * known set of file and row changes reports exactly those.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TestRepo, expectCode, parseJson } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/mariadb.js';
import { compareTrees, hashTree } from '../helpers/tree.js';
import { configValue, parsePhpConfig } from '../../src/opencart/phpConfig.js';
import type { SnapshotDiff } from '../../src/ops/diff.js';
import { volatileDirs, writeStore, type StoreSpec } from './storeFixtures.js';

let server: TestServer;
let repo: TestRepo;
const STAGING = 'https://staging.example.com/';

before(async () => {
  server = await startTestServer();
  repo = await TestRepo.create();
  await Promise.all([
    server.createDatabase('src30').then(() => server.loadFixture('opencart-3.0-demo', 'src30')),
    server.createDatabase('src41').then(() => server.loadFixture('opencart-4.1-demo', 'src41')),
  ]);
});

after(async () => {
  await server?.stop();
  await repo?.cleanup();
});

function tcp(database: string): StoreSpec['db'] {
  return { hostname: '127.0.0.1', port: String(server.port), user: server.server.user, password: server.server.password, database, prefix: 'oc_' };
}

async function readConfig(file: string): Promise<(key: string) => string | undefined> {
  const cfg = parsePhpConfig(await fsp.readFile(file, 'utf8'), file);
  return (key) => configValue(cfg, key);
}

async function count(sql: string, db: string): Promise<number> {
  return Number((await server.query(sql, [], db))[0]!.n);
}

const cases: Array<{ name: string; spec: () => StoreSpec; db: string }> = [
  { name: '3.0 with its storage moved outside the root', db: 'src30', spec: () => ({ version: '3.0', root: repo.path('www30', 'shop'), storage: repo.path('private30', 'storage'), url: 'https://shop30.example.com/', db: tcp('src30') }) },
  { name: '4.x with a renamed admin folder', db: 'src41', spec: () => ({ version: '4.x', root: repo.path('www41', 'shop'), admin: 'manage-x7', url: 'https://shop41.example.com/', db: tcp('src41') }) },
];

const snaps = new Map<string, string>();

for (const c of cases) {
  describe(`clone of a ${c.name}`, () => {
    test('rewrites both configs, prepares the database, leaves the source untouched', async () => {
      const spec = c.spec();
      await writeStore(spec);
      const q = (sql: string): Promise<unknown> => server.query(sql, [], c.db);
      if (spec.version === '3.0') {
        await q("INSERT INTO oc_store (store_id, name, url, `ssl`) VALUES (1, 'Second', 'http://second.example.com/', 'https://second.example.com/')");
        await q("INSERT INTO oc_setting (store_id, code, `key`, `value`, serialized) VALUES (1, 'config', 'config_url', 'http://second.example.com/', 0)");
      } else {
        await q("INSERT INTO oc_store (store_id, name, url) VALUES (1, 'Second', 'https://second.example.com/')");
      }
      await q("INSERT INTO oc_session (session_id, data, expire) VALUES ('live-session', '{}', NOW())");
      const extra = spec.version === '3.0' ? ['api_id, recurring_id, ', '0, 0, '] : ['', ''];
      await q(`INSERT INTO oc_cart (cart_id, ${extra[0]}customer_id, session_id, product_id, \`option\`, quantity, date_added) VALUES (900, ${extra[1]}0, 'guest', 40, '[]', 1, NOW()), (901, ${extra[1]}7, 'member', 40, '[]', 2, NOW())`);
      const backup = parseJson<{ id: string }>(expectCode(await repo.run(['backup', spec.root, '--json']), 0));
      snaps.set(c.db, backup.id);

      const sourceFiles = await hashTree(spec.root);
      const sourceStorage = spec.storage ? await hashTree(spec.storage) : undefined;
      const sourceSums = await server.checksums(c.db);

      const to = repo.path(`staging-${spec.version}`, 'shop');
      const cloneDb = `clone_${spec.version.replace('.', '')}`;
      const r = expectCode(await repo.run(['clone', backup.id, '--to', to, '--db', server.url(cloneDb, 'tcp'), '--url', STAGING, '--no-mail', '--maintenance', '--json']), 0);
      const report = parseJson<{ root: string; storage?: string; adminUrl: string; stores: Array<{ id: number; url: string }>; load: { tables: number } }>(r);
      assert.equal(report.root, to);
      assert.equal(report.stores[0]?.url, 'https://store1.staging.example.com/');
      assert.equal(r.stdout.includes(server.server.password), false, 'no password in the report');

      // the configs, parsed back
      const admin = spec.admin ?? 'admin';
      const cat = await readConfig(path.join(to, 'config.php'));
      const adm = await readConfig(path.join(to, admin, 'config.php'));
      const storage = spec.storage ? `${to}-storage/` : `${to}/system/storage/`;
      for (const get of [cat, adm]) {
        assert.equal(get('DB_HOSTNAME'), '127.0.0.1');
        assert.equal(get('DB_PORT'), String(server.port));
        assert.equal(get('DB_USERNAME'), server.server.user);
        assert.equal(get('DB_PASSWORD'), server.server.password);
        assert.equal(get('DB_DATABASE'), cloneDb);
        assert.equal(get('DB_PREFIX'), 'oc_');
        assert.equal(get('DIR_STORAGE'), storage);
        assert.equal(get('DIR_CACHE'), `${storage}cache/`);
        assert.equal(get('DIR_IMAGE'), `${to}/image/`);
        assert.equal(get('DIR_SYSTEM'), `${to}/system/`);
      }
      assert.equal(cat('DIR_APPLICATION'), `${to}/catalog/`);
      assert.equal(adm('DIR_APPLICATION'), `${to}/${admin}/`);
      assert.equal(adm('DIR_CATALOG'), `${to}/catalog/`);
      assert.equal(cat('HTTP_SERVER'), STAGING);
      assert.equal(adm('HTTP_SERVER'), `${STAGING}${admin}/`);
      assert.equal(adm('HTTP_CATALOG'), STAGING);
      assert.equal(report.adminUrl, `${STAGING}${admin}/`);
      if (spec.version === '3.0') {
        assert.equal(cat('HTTPS_SERVER'), STAGING);
        assert.equal(adm('HTTPS_CATALOG'), STAGING);
        assert.equal(report.storage, `${to}-storage`);
      } else {
        assert.equal(cat('DIR_OPENCART'), `${to}/`);
        assert.equal(adm('DIR_OPENCART'), `${to}/`);
      }
      assert.equal(cat('OPENCART_SERVER') ?? adm('OPENCART_SERVER'), 'https://www.opencart.com/');

      // the files, apart from the configs and the emptied caches
      const cacheDirs = volatileDirs(spec);
      const ignore = (base: string) => (rel: string): boolean => rel === 'config.php' || rel === `${admin}/config.php` || cacheDirs.some((d) => d.startsWith(base + '/') && rel.startsWith(path.relative(base, d) + '/'));
      await compareTrees(spec.root, to, { ignore: ignore(spec.root), mtimes: false });
      if (spec.storage) await compareTrees(spec.storage, `${to}-storage`, { ignore: ignore(spec.storage), mtimes: false });

      // the staging database
      assert.equal(report.load.tables, spec.version === '3.0' ? 134 : 159);
      assert.equal(await count('SELECT COUNT(*) AS n FROM oc_session', cloneDb), 0);
      assert.equal(await count('SELECT COUNT(*) AS n FROM oc_cart WHERE customer_id = 0', cloneDb), 0);
      assert.equal(await count('SELECT COUNT(*) AS n FROM oc_cart WHERE customer_id = 7', cloneDb), 1, 'customers keep their carts');
      const [store] = await server.query('SELECT * FROM oc_store WHERE store_id = 1', [], cloneDb);
      assert.equal(store!.url, 'https://store1.staging.example.com/');
      if (spec.version === '3.0') {
        assert.equal(store!.ssl, 'https://store1.staging.example.com/');
        const [u] = await server.query("SELECT `value` AS v FROM oc_setting WHERE store_id = 1 AND `key` = 'config_url'", [], cloneDb);
        assert.equal(u!.v, 'https://store1.staging.example.com/');
        assert.equal(await count("SELECT COUNT(*) AS n FROM oc_event WHERE (code LIKE 'mail\\_%' OR code LIKE 'admin\\_mail\\_%') AND status = 1", cloneDb), 0);
        assert.ok((await count("SELECT COUNT(*) AS n FROM oc_event WHERE code LIKE 'mail\\_%'", c.db)) > 0);
      } else {
        const [m] = await server.query("SELECT `value` AS v FROM oc_setting WHERE store_id = 0 AND `key` = 'config_mail_engine'", [], cloneDb);
        assert.equal(m!.v, '');
      }
      const [maint] = await server.query("SELECT `value` AS v FROM oc_setting WHERE store_id = 0 AND `key` = 'config_maintenance'", [], cloneDb);
      assert.equal(maint!.v, '1');

      // the source: not one byte changed
      assert.deepEqual(await hashTree(spec.root), sourceFiles);
      if (spec.storage) assert.deepEqual(await hashTree(spec.storage), sourceStorage);
      assert.deepEqual([...(await server.checksums(c.db)).entries()], [...sourceSums.entries()]);

      // and refuses to write over it
      const onSource = await repo.run(['clone', backup.id, '--to', path.join(spec.root, 'staging'), '--db', server.url('other'), '--url', STAGING]);
      assert.equal(onSource.code, 2, onSource.stderr);
      assert.match(onSource.stderr, /never writes to its source/);
      const sameDb = await repo.run(['clone', backup.id, '--to', repo.path('elsewhere'), '--db', server.url(c.db, 'tcp'), '--url', STAGING]);
      assert.equal(sameDb.code, 2, sameDb.stderr);
      assert.match(sameDb.stderr, /source store's database/);
    });
  });
}

describe('diff', () => {
  test('after known file and row changes it reports exactly those', async () => {
    const spec = cases[1]!.spec();
    const a = snaps.get('src41')!;
    const q = (sql: string): Promise<unknown> => server.query(sql, [], 'src41');
    await fsp.writeFile(path.join(spec.root, 'image/catalog/new.png'), Buffer.alloc(1234, 7));
    await fsp.rm(path.join(spec.root, 'image/catalog/logo.png'));
    const patched = '<?php\nclass ControllerCommonHome extends Controller { /* patched */ }\n';
    await fsp.writeFile(path.join(spec.root, 'catalog/controller/common/home.php'), patched);
    await q("INSERT INTO oc_manufacturer (manufacturer_id, name, image, sort_order) VALUES (11, 'Nokia', '', 0)");
    await q("UPDATE oc_manufacturer SET name = 'HTC Corp' WHERE manufacturer_id = 5");
    await q('DELETE FROM oc_manufacturer WHERE manufacturer_id = 6');
    await q('UPDATE oc_product SET price = 99.5000 WHERE product_id = 42');
    await q('ALTER TABLE oc_zone ADD COLUMN note varchar(10) DEFAULT NULL');
    const b = parseJson<{ id: string }>(expectCode(await repo.run(['backup', spec.root, '--json']), 0)).id;

    const d = parseJson<SnapshotDiff>(expectCode(await repo.run(['diff', a, b, '--rows', '--json']), 0));
    const files = d.files.changes.map((f) => [f.change, f.path, f.size]);
    assert.deepEqual(files, [
      ['changed', 'catalog/controller/common/home.php', Buffer.byteLength(patched)],
      ['added', 'image/catalog/new.png', 1234],
      ['removed', 'image/catalog/logo.png', 3000],
    ].sort((x, y) => (String(x[1]) < String(y[1]) ? -1 : 1)));
    const tables = Object.fromEntries(d.database!.tables.map((t) => [t.table, t]));
    assert.deepEqual(Object.keys(tables).sort(), ['oc_manufacturer', 'oc_product', 'oc_zone']);
    const m = tables.oc_manufacturer!;
    assert.deepEqual([m.added, m.removed, m.changed, m.schemaChanged], [1, 1, 1, false]);
    assert.deepEqual(m.rows!.added.map((r) => r.row), [{ manufacturer_id: '11', name: 'Nokia', image: '', sort_order: '0' }]);
    assert.deepEqual(m.rows!.removed.map((r) => r.key), [{ manufacturer_id: '6' }]);
    assert.deepEqual(m.rows!.changed, [{ key: { manufacturer_id: '5' }, changes: { name: { before: 'HTC', after: 'HTC Corp' } } }]);
    const p = tables.oc_product!;
    assert.deepEqual([p.added, p.removed, p.changed], [0, 0, 1]);
    assert.deepEqual(Object.keys(p.rows!.changed[0]!.changes!), ['price']);
    assert.equal(p.rows!.changed[0]!.changes!.price!.after, '99.5000');
    assert.ok((p.skippedBlobs ?? 0) >= 0);
    const z = tables.oc_zone!;
    assert.deepEqual([z.schemaChanged, z.columnsAdded, z.added, z.removed, z.changed], [true, ['note'], 0, 0, 0]);
    assert.deepEqual(d.database!.objects, []);

    const human = expectCode(await repo.run(['diff', a, b]), 0).stdout;
    assert.match(human, /files: 1 added, 1 removed, 1 changed/);
    assert.match(human, /M oc_manufacturer: 1 added, 1 removed, 1 changed/);
  });
});
