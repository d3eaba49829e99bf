import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { DirScanner, entryStatOf, isScannedDir, scanDir, scanDirs, scanDirSync, scanError, scannedStat, type DirScan } from '../../src/sources/files/dirScan.js';
import { nativeAddon } from '../../src/storage/nativeAddon.js';

/** A directory with an entry of every kind a walk meets, odd names and old times included. */
async function tree(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ocv-scan-'));
  writeFileSync(path.join(dir, 'plain.txt'), 'some bytes');
  writeFileSync(path.join(dir, 'ünïcödé ✓'), 'x'.repeat(5000));
  writeFileSync(Buffer.from(path.join(dir, 'latin1-\xe9'), 'latin1'), 'not utf-8');
  mkdirSync(path.join(dir, 'sub'));
  mkdirSync(path.join(dir, 'Z upper'));
  symlinkSync('plain.txt', path.join(dir, 'link'));
  symlinkSync('/nowhere', path.join(dir, 'dangling'));
  execFileSync('mkfifo', [path.join(dir, 'fifo')]);
  writeFileSync(path.join(dir, 'old'), '');
  execFileSync('touch', ['-h', '-d', '1969-07-20 20:17:40.123456789 UTC', path.join(dir, 'old')]);
  // nanoseconds that need their leading zeros
  writeFileSync(path.join(dir, 'padded'), '');
  execFileSync('touch', ['-h', '-d', '2001-09-09 01:46:40.000000001 UTC', path.join(dir, 'padded')]);
  return dir;
}

function entries(scan: DirScan): { name: string; error?: string; type?: string; size: number; ino: number; mtimeMs: number; ctimeMs: number; node?: unknown }[] {
  return scan.names.map((name, i) => {
    const error = scanError(scan, i);
    if (error) return { name: name.toString('latin1'), error, size: 0, ino: 0, mtimeMs: 0, ctimeMs: 0 };
    const st = scannedStat(scan, i);
    return { name: name.toString('latin1'), type: st.type, size: st.size, ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, node: st.node(name) };
  });
}

test('directory scans: the addon lists what readdir and lstat give, in Buffer order, with the same nodes', async (t) => {
  if (!nativeAddon()?.scanDirs) return t.skip('the addon is not built');
  const dir = await tree();
  try {
    const native = await scanDir(Buffer.from(dir));
    const portable = scanDirSync(Buffer.from(dir));
    assert.deepEqual(entries(native), entries(portable));
    const names = native.names.map((n) => n.toString('latin1'));
    assert.deepEqual(names, [...names].sort((a, b) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'))));
    assert.equal(names.length, 10);
    for (const [i, name] of native.names.entries()) {
      const st = lstatSync(Buffer.concat([Buffer.from(dir + '/'), name]), { bigint: true });
      const expected = entryStatOf(st);
      const got = scannedStat(native, i);
      assert.equal(got.type, expected.type, name.toString());
      assert.equal(got.mtimeMs, lstatSync(Buffer.concat([Buffer.from(dir + '/'), name])).mtimeMs, `plain lstat's mtimeMs of ${name.toString()}`);
      assert.deepEqual(got.node(name), expected.node(name), `node of ${name.toString()}`);
      assert.equal(isScannedDir(native, i), st.isDirectory());
    }
    assert.equal(scannedStat(native, names.indexOf('fifo')).type, 'fifo');
    assert.equal(scannedStat(native, names.indexOf('dangling')).type, 'symlink');
    assert.equal((scannedStat(native, names.indexOf('old')).node(Buffer.from('old')) as { mtimeNs: string }).mtimeNs, '-14182939876543211');
    assert.equal((scannedStat(native, names.indexOf('padded')).node(Buffer.from('padded')) as { mtimeNs: string }).mtimeNs, '1000000000000000001');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('directory scans: a missing directory, a file and a link to a directory are errors that name their cause', async () => {
  const dir = await tree();
  try {
    symlinkSync('sub', path.join(dir, 'to-sub'));
    const code = async (p: string): Promise<string | undefined> => (await scanDir(Buffer.from(p)).then(() => undefined, (e: { code?: string }) => e.code)) ?? 'none';
    assert.equal(await code(path.join(dir, 'missing')), 'ENOENT');
    assert.equal(await code(path.join(dir, 'plain.txt')), 'ENOTDIR');
    // a directory swapped for a link while the walk ran is not followed out of the tree
    if (nativeAddon()?.scanDirs) assert.equal(await code(path.join(dir, 'to-sub')), 'ENOTDIR');
    assert.equal((await scanDir(Buffer.from(path.join(dir, 'sub')))).names.length, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('directory scans: several directories in one job give, in order, what scanning each gives', async () => {
  const dir = await tree();
  try {
    const dirs = [dir, path.join(dir, 'missing'), path.join(dir, 'sub'), path.join(dir, 'plain.txt'), path.join(dir, 'Z upper'), dir].map((d) => Buffer.from(d));
    const many = await scanDirs(dirs);
    assert.equal(many.length, dirs.length);
    for (const [i, d] of dirs.entries()) {
      const one = await scanDir(d).catch((e: Error) => e);
      const got = many[i]!;
      if (one instanceof Error) {
        assert.ok(got instanceof Error, `${d.toString()}: an error`);
        assert.equal((got as { code?: string }).code, (one as { code?: string }).code, d.toString());
      } else {
        assert.ok(!(got instanceof Error), `${d.toString()}: ${String(got)}`);
        assert.deepEqual(entries(got), entries(one), d.toString());
      }
    }
    assert.deepEqual(await scanDirs([]), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('directory scans: a directory listed ahead is the one taken, and one never taken fails nothing', async () => {
  const dir = await tree();
  try {
    const scanner = new DirScanner();
    scanner.prefetch(Buffer.from(path.join(dir, 'sub')));
    scanner.prefetch(Buffer.from(path.join(dir, 'missing')));
    writeFileSync(path.join(dir, 'sub', 'late'), '');
    // the prefetched scan may or may not have seen `late`; the taken one is a scan of `sub`
    const sub = await scanner.take(Buffer.from(path.join(dir, 'sub')));
    assert.ok(sub.names.length <= 1);
    const again = await scanner.take(Buffer.from(path.join(dir, 'sub')));
    assert.deepEqual(again.names.map(String), ['late']);
    const top = await scanner.take(Buffer.from(dir));
    assert.equal(top.names.length, 10);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('directory scans: a directory of many entries is listed whole and in order, with the addon or without', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ocv-scan-many-'));
  try {
    const names = Array.from({ length: 300 }, (_, i) => `entry-${(i * 7919) % 1000}`);
    for (const n of names) writeFileSync(path.join(dir, n), n);
    const expected = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const scanned = await scanDir(Buffer.from(dir));
    assert.deepEqual(scanned.names.map(String), expected);
    assert.deepEqual(scanDirSync(Buffer.from(dir)).names.map(String), expected);
    for (const [i, n] of scanned.names.entries()) assert.equal(scannedStat(scanned, i).size, n.length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
