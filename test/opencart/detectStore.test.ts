import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isOcvaultError } from '../../src/errors/OcvaultError.js';
import { detectStore } from '../../src/opencart/detectStore.js';
import { defaultStoreExcludes, storeUserExclude } from '../../src/opencart/storeExcludes.js';
import { cloneConfigValues } from '../../src/opencart/cloneConfig.js';
import { configValue, parsePhpConfig, rewritePhpConfig } from '../../src/opencart/phpConfig.js';
import { extraStoreUrl, stagingStatements } from '../../src/opencart/stagingSql.js';
import { matchesAny, parsePattern } from '../../src/sources/files/glob.js';
import { makeTempDir } from '../helpers/cli.js';
import { removeTree } from '../helpers/tree.js';
import { writeStore, type StoreSpec } from './storeFixtures.js';

let base: string;
const db = { hostname: '127.0.0.1', port: '3310', user: 'shop', password: "pa'ss\\word", database: 'shop', prefix: 'oc_' };

before(async () => {
  base = await makeTempDir('ocvault-oc-detect-');
});
after(async () => {
  await removeTree(base);
});

function spec(version: StoreSpec['version'], extra: Partial<StoreSpec> = {}): StoreSpec {
  return { version, root: path.join(base, `shop-${version}`), url: `http://shop${version.replace('.', '')}.example.com/`, db, ...extra };
}

const excluded = (patterns: string[], rel: string, dir = false): boolean => matchesAny(patterns.map(parsePattern), rel, dir);

describe('detectStore', () => {
  test('1.5: absolute paths, mysql driver, socket in DB_HOSTNAME, no DB_PORT', async () => {
    const s = spec('1.5', { db: { ...db, hostname: 'localhost:/run/test/mysqld.sock' } });
    await writeStore(s);
    const store = (await detectStore(s.root, { sockets: [] }))!;
    assert.equal(store.version, '1.5.6.4');
    assert.equal(store.family, '1.5');
    assert.equal(store.admin?.folder, 'admin');
    assert.equal(store.storage, undefined);
    assert.deepEqual({ socket: store.db.socket, user: store.db.user, password: store.db.password, driver: store.db.driver, hasPort: store.db.hasPortDefine }, { socket: '/run/test/mysqld.sock', user: 'shop', password: "pa'ss\\word", driver: 'mysql', hasPort: false });
    const ex = defaultStoreExcludes(store, { layout: 'root' });
    assert.deepEqual(ex.sort(), ['/image/cache/*', '/system/cache/*', '/system/logs/*']);
    assert.ok(excluded(ex, 'image/cache/data', true));
    assert.ok(!excluded(ex, 'image/cache', true), 'the folder itself stays');
    assert.ok(!excluded(ex, 'image/data/demo.jpg'));
  });

  test('2.3: system/storage inside the root, DB_PORT', async () => {
    const s = spec('2.3');
    await writeStore(s);
    const store = (await detectStore(s.root, { sockets: [] }))!;
    assert.equal(store.family, '2.x');
    assert.equal(store.db.port, 3310);
    assert.equal(store.db.host, '127.0.0.1');
    assert.equal(store.url, s.url);
    assert.deepEqual(defaultStoreExcludes(store, { layout: 'root' }).sort(), ['/image/cache/*', '/system/storage/cache/*', '/system/storage/logs/*']);
  });

  test('3.0 with the storage moved outside the root', async () => {
    const storage = path.join(base, 'private', 'oc-storage');
    const s = spec('3.0', { storage });
    await writeStore(s);
    const store = (await detectStore(s.root, { sockets: [] }))!;
    assert.equal(store.family, '3.0');
    assert.deepEqual(store.storage, { path: storage, external: true });
    const layout = { layout: 'split' as const, rootEntry: 'shop-3.0', storageEntry: 'oc-storage' };
    const ex = defaultStoreExcludes(store, layout);
    assert.deepEqual(ex.sort(), ['/oc-storage/cache/*', '/oc-storage/logs/*', '/oc-storage/session/*', '/shop-3.0/image/cache/*']);
    assert.equal(storeUserExclude('image/catalog/big/', store, layout), '/shop-3.0/image/catalog/big/');
    assert.equal(storeUserExclude('*.log', store, layout), '*.log');
    assert.equal(storeUserExclude(`${storage}/backup/`, store, layout), '/oc-storage/backup/');
    assert.equal(storeUserExclude(`${s.root}/download`, store, layout), '/shop-3.0/download');
  });

  test('4.x with a renamed admin folder, DIR_OPENCART, derived paths', async () => {
    const s = spec('4.x', { admin: 'manage-x7' });
    await writeStore(s);
    // an old copy of the admin left beside it must not be taken for the admin
    await fsp.mkdir(path.join(s.root, 'admin_old'), { recursive: true });
    await fsp.writeFile(path.join(s.root, 'admin_old', 'config.php'), "<?php\ndefine('APPLICATION', 'Admin');\ndefine('DIR_APPLICATION', '/elsewhere/admin/');\n");
    const store = (await detectStore(s.root, { sockets: [] }))!;
    assert.equal(store.version, '4.1.0.5');
    assert.equal(store.family, '4.x');
    assert.equal(store.admin?.folder, 'manage-x7');
    assert.deepEqual(store.storage, { path: path.join(s.root, 'system', 'storage'), external: false });
    assert.deepEqual(defaultStoreExcludes(store, { layout: 'root' }).sort(), ['/image/cache/*', '/system/storage/cache/*', '/system/storage/logs/*', '/system/storage/session/*']);
  });

  test('a store copied elsewhere maps its configured paths onto the copy', async () => {
    const s = spec('2.3', { root: path.join(base, 'original') });
    await writeStore(s);
    const moved = path.join(base, 'copy-of-original');
    await fsp.rename(s.root, moved);
    const store = (await detectStore(moved, { sockets: [] }))!;
    assert.equal(store.root, moved);
    assert.equal(store.paths.configRoot, s.root);
    assert.ok(defaultStoreExcludes(store, { layout: 'root' }).includes('/system/storage/cache/*'));
  });

  test('not a store; a broken config names file and line', async () => {
    const plain = path.join(base, 'plain');
    await fsp.mkdir(plain, { recursive: true });
    assert.equal(await detectStore(plain), undefined);
    await fsp.writeFile(path.join(plain, 'config.php'), "<?php\n$config = ['a' => 1];\n");
    assert.equal(await detectStore(plain), undefined);
    await fsp.writeFile(path.join(plain, 'config.php'), "<?php\ndefine('DB_HOSTNAME', 'localhost');\ndefine('DB_DATABASE', 'x);\n");
    await assert.rejects(detectStore(plain), (e: unknown) => isOcvaultError(e, 'BadConfig') && /plain\/config\.php, line 3/.test((e as Error).message));
  });
});

describe('staging copy of a config', () => {
  test('3.0 with moved storage: paths, URLs and database rewritten, the rest kept', async () => {
    const storage = path.join(base, 'private', 'oc-storage');
    const s = spec('3.0', { storage, root: path.join(base, 'shop-3.0') });
    await writeStore(s);
    const store = (await detectStore(s.root, { sockets: [] }))!;
    const src = { configRoot: store.paths.configRoot, externalStorage: storage, urls: [s.url], admin: 'admin', db: store.db };
    const dst = { root: '/srv/staging', storage: '/srv/staging-storage', url: 'https://staging.example.com/', db: { host: '10.0.0.9', port: 3307, user: "stag'er", password: 'n\\ew', database: 'staging' } };
    for (const [file, role] of [[store.configFile, 'catalog'], [store.admin!.configFile, 'admin']] as const) {
      const text = await fsp.readFile(file, 'utf8');
      const out = rewritePhpConfig(text, file, cloneConfigValues(parsePhpConfig(text, file), role, src, dst));
      const cfg = parsePhpConfig(out, file);
      const v = (k: string): string | undefined => configValue(cfg, k);
      assert.equal(v('DIR_APPLICATION'), role === 'catalog' ? '/srv/staging/catalog/' : '/srv/staging/admin/');
      assert.equal(v('DIR_STORAGE'), '/srv/staging-storage/');
      assert.equal(v('DIR_CACHE'), '/srv/staging-storage/cache/');
      assert.equal(v('DIR_IMAGE'), '/srv/staging/image/');
      assert.equal(v('HTTP_SERVER'), role === 'catalog' ? 'https://staging.example.com/' : 'https://staging.example.com/admin/');
      assert.equal(v('HTTPS_SERVER'), v('HTTP_SERVER'));
      if (role === 'admin') {
        assert.equal(v('HTTP_CATALOG'), 'https://staging.example.com/');
        assert.equal(v('DIR_CATALOG'), '/srv/staging/catalog/');
      }
      assert.equal(v('OPENCART_SERVER'), 'https://www.opencart.com/');
      assert.deepEqual([v('DB_HOSTNAME'), v('DB_PORT'), v('DB_USERNAME'), v('DB_PASSWORD'), v('DB_DATABASE'), v('DB_PREFIX')], ['10.0.0.9', '3307', "stag'er", 'n\\ew', 'staging', 'oc_']);
      // derived defines keep their expressions
      assert.match(out, /define\('DIR_CACHE', DIR_STORAGE \. 'cache\/'\);/);
    }
  });

  test('staging statements', () => {
    const st = stagingStatements(
      { prefix: 'oc_', family: '3.0', tables: ['oc_session', 'oc_customer_online', 'oc_api_session', 'oc_cart', 'oc_setting', 'oc_store', 'oc_event'], settingColumns: ['setting_id', 'store_id', 'code', 'key', 'value', 'serialized'], storeColumns: ['store_id', 'name', 'url', 'ssl'], stores: [{ id: 2, url: '' }] },
      { url: 'https://staging.example.com/shop', noMail: true, maintenance: true },
    );
    const sql = st.map((s) => s.sql).join('\n');
    assert.match(sql, /TRUNCATE TABLE `oc_session`/);
    assert.match(sql, /TRUNCATE TABLE `oc_api_session`/);
    assert.match(sql, /DELETE FROM `oc_cart` WHERE customer_id = 0/);
    assert.match(sql, /UPDATE `oc_event` SET status = 0 WHERE code LIKE 'mail\\_%'/);
    const store = st.find((s) => s.sql.startsWith('UPDATE `oc_store`'))!;
    assert.deepEqual(store.values, ['https://store2.staging.example.com/shop/', 'https://store2.staging.example.com/shop/', 2]);
    assert.ok(st.find((s) => s.sql.includes('config_maintenance'))!.orElse!.sql.includes('`code`'));
    assert.equal(extraStoreUrl('https://staging.example.com/', 1), 'https://store1.staging.example.com/');
    const v4 = stagingStatements({ prefix: 'oc_', family: '4.x', tables: ['oc_setting'], settingColumns: ['code'], storeColumns: [], stores: [] }, { url: 'https://s/', noMail: true });
    assert.ok(v4.some((s) => s.sql.includes("config_mail_engine")));
  });
});
