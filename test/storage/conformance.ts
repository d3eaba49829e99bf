import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Backend } from '../../src/storage/Backend.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';

/**
 * The one suite every storage backend passes. `make` gives a fresh, empty backend;
 * `cleanup` removes it.
 */
export function backendConformance(name: string, make: () => Promise<Backend>, cleanup: (b: Backend) => Promise<void> = async () => undefined): void {
  const withBackend = async (fn: (b: Backend) => Promise<void>): Promise<void> => {
    const b = await make();
    try {
      await b.create();
      await fn(b);
    } finally {
      await b.close();
      await cleanup(b);
    }
  };

  test(`${name}: save then load returns the same bytes, whole and by range`, () =>
    withBackend(async (b) => {
      const data = randomBytes(100_000);
      const id = 'ab' + randomBytes(31).toString('hex');
      await b.save('data', id, data);
      assert.deepEqual(await b.load('data', id), data);
      assert.deepEqual(await b.load('data', id, { offset: 1000, length: 5000 }), data.subarray(1000, 6000));
      assert.equal((await b.stat('data', id)).size, data.length);
    }));

  test(`${name}: list shows saved objects of a type with their sizes, and only those`, () =>
    withBackend(async (b) => {
      await b.save('snapshots', 'one', Buffer.from('1'));
      await b.save('snapshots', 'two', Buffer.from('22'));
      await b.save('index', 'three', Buffer.from('333'));
      const snaps = (await b.list('snapshots')).sort((x, y) => x.name.localeCompare(y.name));
      assert.deepEqual(snaps, [
        { name: 'one', size: 1 },
        { name: 'two', size: 2 },
      ]);
      assert.deepEqual(await b.list('index'), [{ name: 'three', size: 3 }]);
      assert.deepEqual(await b.list('locks'), []);
    }));

  test(`${name}: data objects are listed across their sub-folders`, () =>
    withBackend(async (b) => {
      const ids = ['00' + 'a'.repeat(62), 'ff' + 'b'.repeat(62), '7c' + 'c'.repeat(62)];
      for (const id of ids) await b.save('data', id, Buffer.from(id));
      assert.deepEqual((await b.list('data')).map((o) => o.name).sort(), [...ids].sort());
    }));

  test(`${name}: missing objects throw ObjectNotFound; remove is idempotent`, () =>
    withBackend(async (b) => {
      await assert.rejects(b.load('keys', 'nope'), (e: unknown) => e instanceof OcvaultError && e.code === 'ObjectNotFound');
      await assert.rejects(b.stat('keys', 'nope'), (e: unknown) => e instanceof OcvaultError && e.code === 'ObjectNotFound');
      await b.save('keys', 'k', Buffer.from('x'));
      await b.remove('keys', 'k');
      await b.remove('keys', 'k');
      assert.deepEqual(await b.list('keys'), []);
    }));

  test(`${name}: ranged reads see an object removed and saved again (no stale open file)`, () =>
    withBackend(async (b) => {
      const range = { offset: 2, length: 3 };
      await b.save('data', 'ab12', Buffer.from('0123456789'));
      assert.equal((await b.load('data', 'ab12', range)).toString(), '234');
      await b.remove('data', 'ab12');
      await assert.rejects(b.load('data', 'ab12', range), (e: unknown) => e instanceof OcvaultError && e.code === 'ObjectNotFound');
      await b.save('data', 'ab12', Buffer.from('abcdefghij'));
      assert.equal((await b.load('data', 'ab12', range)).toString(), 'cde');
    }));

  test(`${name}: a range past the end is an error, not short data`, () =>
    withBackend(async (b) => {
      await b.save('index', 'short', Buffer.alloc(10));
      await assert.rejects(b.load('index', 'short', { offset: 5, length: 10 }), (e: unknown) => e instanceof OcvaultError && e.code === 'CorruptObject');
    }));

  test(`${name}: the config object round-trips and create refuses an existing repository`, () =>
    withBackend(async (b) => {
      await b.save('config', 'config', Buffer.from('{}'));
      assert.equal((await b.load('config', 'config')).toString(), '{}');
      assert.equal((await b.list('config')).length, 1);
      await assert.rejects(b.create(), (e: unknown) => e instanceof OcvaultError && e.code === 'RepositoryExists');
    }));

  test(`${name}: an object given as parts is stored back to back; large objects and ranges at the end`, { timeout: 60_000 }, () =>
    withBackend(async (b) => {
      const parts = [randomBytes(6 * 1024 * 1024 + 17), randomBytes(5), Buffer.alloc(0), randomBytes(2 * 1024 * 1024)];
      const whole = Buffer.concat(parts);
      const id = '5e' + randomBytes(31).toString('hex');
      await b.save('data', id, parts);
      assert.equal((await b.stat('data', id)).size, whole.length);
      assert.ok((await b.load('data', id)).equals(whole));
      const tail = await b.load('data', id, { offset: whole.length - 1000, length: 1000 });
      assert.ok(tail.equals(whole.subarray(whole.length - 1000)));
      const middle = await b.load('data', id, { offset: 6 * 1024 * 1024, length: 40 });
      assert.ok(middle.equals(whole.subarray(6 * 1024 * 1024, 6 * 1024 * 1024 + 40)));
    }));

  test(`${name}: many saves and loads at once; saving the same object again is harmless`, { timeout: 60_000 }, () =>
    withBackend(async (b) => {
      const objects = Array.from({ length: 24 }, (_, i) => ({ id: randomBytes(32).toString('hex'), data: randomBytes(1000 + i * 7919) }));
      await Promise.all(objects.map((o) => b.save('data', o.id, o.data)));
      await Promise.all(objects.slice(0, 4).map((o) => b.save('data', o.id, o.data)));
      const loaded = await Promise.all(objects.map((o) => b.load('data', o.id)));
      loaded.forEach((l, i) => assert.ok(l.equals(objects[i]!.data), `object ${i}`));
      const listed = new Map((await b.list('data')).map((o) => [o.name, o.size]));
      assert.equal(listed.size, objects.length, 'no temporary or duplicate objects are listed');
      for (const o of objects) assert.equal(listed.get(o.id), o.data.length);
      await Promise.all(objects.map((o) => b.remove('data', o.id)));
      assert.deepEqual(await b.list('data'), []);
    }));

  test(`${name}: a file written into its staging folder becomes the object it is adopted as (where it has one)`, () =>
    withBackend(async (b) => {
      if (b.stagingDir === undefined || !b.adopt) {
        assert.equal(b.adopt, undefined, 'adopt without a staging folder');
        return;
      }
      const data = randomBytes(70_000);
      const id = randomBytes(32).toString('hex');
      await mkdir(b.stagingDir, { recursive: true });
      const file = path.join(b.stagingDir, `stage.${randomBytes(8).toString('hex')}.tmp`);
      await writeFile(file, data);
      await b.adopt(file, 'data', id);
      assert.deepEqual(await b.load('data', id), data);
      assert.deepEqual(await b.load('data', id, { offset: 7, length: 70 }), data.subarray(7, 77));
      assert.deepEqual((await b.list('data')).map((o) => o.name), [id]);
      await assert.rejects(readFile(file), /ENOENT/, 'the staging file is gone');
      await assert.rejects(b.adopt(path.join(b.stagingDir, 'never-written.tmp'), 'data', randomBytes(32).toString('hex')), (e: unknown) => e instanceof OcvaultError && e.code === 'StorageError');
    }));
}
