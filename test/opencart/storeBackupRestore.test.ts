/**
 * One command backs up a store of each config layout (1.5, 2.3, 3.0 with the storage moved
 * outside the root, 4.x with a renamed admin folder) on a fixture database; restore brings
 * back the files and tables exactly; a restore over the live store needs --force and first
 * saves what it replaces.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { NOBODY, TestRepo, expectCode, isRoot, parseJson } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/mariadb.js';
import { compareTrees, removeTree } from '../helpers/tree.js';
import { VERSION_OF, volatileDirs, volatileFiles, writeStore, type FixtureVersion, type StoreSpec } from './storeFixtures.js';

let server: TestServer;
let repo: TestRepo;
const STORE_USER = "sh'op";
const STORE_PASSWORD = `p@ss'w\\rd:/?#%`;

before(async () => {
  server = await startTestServer();
  repo = await TestRepo.create();
  await Promise.all([
    server.createDatabase('oc30').then(() => server.loadFixture('opencart-3.0-demo', 'oc30')),
    server.createDatabase('oc41').then(() => server.loadFixture('opencart-4.1-demo', 'oc41')),
  ]);
  await server.query('CREATE USER ?@? IDENTIFIED BY ?', [STORE_USER, '%', STORE_PASSWORD]);
  await server.query('GRANT ALL PRIVILEGES ON *.* TO ?@?', [STORE_USER, '%']);
});

after(async () => {
  await server?.stop();
  await repo?.cleanup();
});

interface Backup {
  id: string;
  tags: string[];
  store: { store: string; version: string; layout: string; admin: string; storage: string; dbPrefix: string; url: string };
  excludes: string[];
  database: { tables: number; source: string } | null;
}

/** The store spec of each layout: which database, through which kind of connection. */
function specFor(version: FixtureVersion): StoreSpec {
  const root = repo.path(`www-${version}`, 'shop');
  const tcp = { hostname: '127.0.0.1', port: String(server.port), user: STORE_USER, password: STORE_PASSWORD, prefix: 'oc_' };
  switch (version) {
    case '1.5':
      // no DB_PORT in 1.5: the server's socket in DB_HOSTNAME, mysql_connect style
      return { version, root, url: 'http://shop15.example.com/', db: { hostname: `localhost:${server.socket}`, user: server.server.user, password: server.server.password, database: 'oc30', prefix: 'oc_' } };
    case '2.3':
      return { version, root, url: 'http://shop23.example.com/', db: { ...tcp, hostname: 'p:127.0.0.1', database: 'oc30' } };
    case '3.0':
      return { version, root, storage: repo.path('private-3.0', 'oc-storage'), url: 'https://shop30.example.com/', db: { ...tcp, database: 'oc30' } };
    case '4.x':
      return { version, root, admin: 'manage-x7', url: 'https://shop41.example.com/', db: { ...tcp, database: 'oc41' } };
  }
}

/** Is `rel` (below `base`) inside a folder whose contents a store backup leaves out? */
function volatileIgnore(spec: StoreSpec, base: string): (rel: string) => boolean {
  const dirs = volatileDirs(spec).filter((d) => d.startsWith(base + '/')).map((d) => path.relative(base, d) + '/');
  return (rel) => dirs.some((d) => rel.startsWith(d));
}

for (const version of ['1.5', '2.3', '3.0', '4.x'] as FixtureVersion[]) {
  describe(`OpenCart ${version} store`, () => {
    let spec: StoreSpec;
    let snap: Backup;

    test('one command backs up files, storage and database', async () => {
      spec = specFor(version);
      await writeStore(spec);
      // 2.3 keeps its caches, logs and sessions too
      const keepAll = version === '2.3';
      const r = expectCode(await repo.run(['backup', spec.root, ...(keepAll ? ['--no-default-excludes'] : []), '--json']), 0);
      snap = parseJson<Backup>(r);
      assert.equal(r.stderr.includes(STORE_PASSWORD), false);
      assert.equal(r.stdout.includes(STORE_PASSWORD), false);
      assert.equal(snap.store.store, 'Your Store', 'the name comes from the setting table');
      assert.equal(snap.store.version, VERSION_OF[version]);
      assert.deepEqual(snap.tags.slice(0, 3), ['Your Store', `opencart-${VERSION_OF[version]}`, spec.url]);
      assert.equal(snap.store.admin, spec.admin ?? 'admin');
      assert.equal(snap.store.dbPrefix, 'oc_');
      assert.equal(snap.store.layout, spec.storage ? 'split' : 'root');
      assert.equal(snap.database?.tables, version === '4.x' ? 159 : 134);
      assert.equal(snap.database!.source.includes(STORE_PASSWORD), false);
      const ls = (await repo.ls(snap.id)).map((e) => e.path);
      const prefix = spec.storage ? 'shop/' : '';
      assert.ok(ls.includes(`${prefix}config.php`));
      assert.ok(ls.includes(`${prefix}${spec.admin ?? 'admin'}/config.php`));
      if (spec.storage) {
        assert.ok(ls.includes('oc-storage/download/manual.pdf.abc123'), 'the moved storage is in the snapshot');
        assert.ok(ls.includes('oc-storage/cache'), 'its cache folder is kept, empty');
      }
      for (const f of volatileFiles(spec)) {
        const rel = spec.storage && f.startsWith(spec.storage) ? `oc-storage/${path.relative(spec.storage, f)}` : `${prefix}${path.relative(spec.root, f)}`;
        assert.equal(ls.includes(rel), keepAll, `${rel} is ${keepAll ? 'kept' : 'excluded by default'}`);
      }
    });

    test('restore reproduces the files and every table', async () => {
      const target = repo.path(`restored-${version}`, 'shop');
      const db = `restored_${version.replace('.', '')}`;
      const r = expectCode(await repo.run(['restore', snap.id, '--target', target, '--db', server.url(db), '--json']), 0);
      const report = parseJson<{ files: { storageTarget: string | null }; database: { checks: number } }>(r);
      assert.equal(report.database.checks, version === '4.x' ? 159 : 134);
      await compareTrees(spec.root, target, version === '2.3' ? {} : { ignore: volatileIgnore(spec, spec.root) });
      if (spec.storage) {
        assert.equal(report.files.storageTarget, `${target}-storage`);
        await compareTrees(spec.storage, `${target}-storage`, { ignore: volatileIgnore(spec, spec.storage) });
      }
      const source = spec.db.database;
      assert.deepEqual([...(await server.checksums(db)).entries()], [...(await server.checksums(source)).entries()]);
    });
  });
}

describe('restoring over a live store', () => {
  test('needs --force, then saves what it replaces first (files and database) and puts the snapshot back', async () => {
    // a live 3.0 store on its own database (the copy restored above)
    await server.query('CREATE DATABASE live30');
    for (const [t] of await server.checksums('restored_30')) await server.query(`RENAME TABLE restored_30.\`${t}\` TO live30.\`${t}\``);
    const spec: StoreSpec = { ...specFor('3.0'), root: repo.path('live', 'shop'), storage: repo.path('live', 'storage-outside'), db: { ...specFor('3.0').db, database: 'live30' } };
    await writeStore(spec);
    await server.query("INSERT INTO oc_session (session_id, data, expire) VALUES ('abc', 'x', NOW())", [], 'live30');
    const first = parseJson<Backup>(expectCode(await repo.run(['backup', spec.root, '--skip-volatile', '--json']), 0));
    const before = await server.checksums('live30');
    const configBefore = await fsp.readFile(path.join(spec.root, 'config.php'), 'utf8');

    // the contractor's changes
    await fsp.writeFile(path.join(spec.root, 'catalog/controller/common/home.php'), '<?php // broken by a contractor\n');
    await fsp.writeFile(path.join(spec.storage!, 'download/new.zip'), 'new');
    await server.query("UPDATE oc_product SET price = price + 1 WHERE product_id = 42", [], 'live30');

    const refused = await repo.run(['restore', first.id, '--target', spec.root]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /holds a store.*--force/s);

    const r = expectCode(await repo.run(['restore', first.id, '--target', spec.root, '--force', '--json']), 0);
    const report = parseJson<{ safetySnapshot: string; files: { storageTarget: string }; database: { target: string } }>(r);
    assert.match(report.safetySnapshot, /^[0-9a-f]{64}$/);
    assert.equal(report.files.storageTarget, spec.storage, 'in place: the storage goes back where it was');
    assert.match(report.database.target, /\/live30$/);
    assert.equal(await fsp.readFile(path.join(spec.root, 'config.php'), 'utf8'), configBefore);
    assert.equal(await fsp.readFile(path.join(spec.root, 'catalog/controller/common/home.php'), 'utf8'), '<?php\nclass ControllerCommonHome extends Controller {}\n');
    const after = await server.checksums('live30');
    for (const [t, sum] of before) if (t !== 'oc_session') assert.equal(after.get(t), sum, t);
    assert.equal(Number((await server.query('SELECT COUNT(*) AS n FROM oc_session', [], 'live30'))[0]!.n), 0, '--skip-volatile kept the table, not its rows');

    // the safety snapshot is a store snapshot of what was replaced
    const snaps = await repo.json<Array<{ id: string; tags: string[] }>>(['snapshots', '--store', 'Your Store', '--json']);
    const safety = snaps.find((s) => s.id === report.safetySnapshot)!;
    assert.ok(safety.tags.includes('pre-restore'));
    const undo = repo.path('undo');
    expectCode(await repo.run(['restore', safety.id, '--target', undo, '--db', server.url('undo30'), '--json']), 0);
    assert.equal(await fsp.readFile(path.join(undo, 'catalog/controller/common/home.php'), 'utf8'), '<?php // broken by a contractor\n');
    assert.equal(await fsp.readFile(path.join(`${undo}-storage`, 'download/new.zip'), 'utf8'), 'new');
    const [p] = await server.query('SELECT price FROM oc_product WHERE product_id = 42', [], 'undo30');
    const [q] = await server.query('SELECT price FROM oc_product WHERE product_id = 42', [], 'live30');
    assert.equal(Number(p!.price), Number(q!.price) + 1);
    await removeTree(undo);
  });

  test('snapshots --store filters by store name', async () => {
    const none = await repo.json<Array<{ id: string }>>(['snapshots', '--store', 'No Such Store', '--json']);
    const mine = await repo.json<Array<{ id: string }>>(['snapshots', '--store', 'Your Store', '--json']);
    assert.equal(none.length, 0);
    assert.equal(mine.length, 6, 'four stores, the one restored over, and its safety snapshot');
  });
});

describe('a store restore that cannot recreate everything', () => {
  test('names each entry it could not recreate, restores the rest and exits 3', { skip: !isRoot() && 'needs root to make a device node and to switch user' }, async () => {
    const u = await TestRepo.create({ ...NOBODY });
    try {
      const spec: StoreSpec = { ...specFor('4.x'), root: u.path('shop') };
      await writeStore(spec);
      execFileSync('mknod', [path.join(spec.root, 'image', 'tty-copy'), 'c', '5', '0']);
      const b = parseJson<Backup>(expectCode(await u.run(['backup', spec.root, '--files-only', '--json']), 0));
      assert.ok(b.store, 'backed up as a store');
      const target = u.path('restored');
      // as nobody, mknod is refused: a warning naming the device, the files restored, exit 3
      const r = expectCode(await u.run(['restore', b.id, '--target', target, '--files-only', '--json']), 3);
      assert.match(r.stderr, /^warning: cannot recreate the chardev .*image\/tty-copy/m, r.stderr);
      const report = parseJson<{ files: { warnings: string[] } }>(r);
      assert.equal(report.files.warnings.length, 1);
      assert.equal(await fsp.readFile(path.join(target, 'config.php'), 'utf8'), await fsp.readFile(path.join(spec.root, 'config.php'), 'utf8'));
    } finally {
      await u.cleanup();
    }
  });
});
