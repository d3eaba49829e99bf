import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, promises as fsp } from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { TestRepo, describeRun, isRoot, NOBODY, parseJson, type BackupResult } from '../helpers/cli.js';
import { compareTrees, writeRandomFile, writeTree } from '../helpers/tree.js';

/**
 * A file that cannot be read: the snapshot is still made with everything else, the file is named
 * in a warning, and the exit code is 3. As root, permissions do not stop reads, so the backup
 * runs as nobody (65534) with a source tree owned by root and the unreadable file mode 0000.
 */
describe('exit code 3: snapshot made, some files unreadable', () => {
  let t: TestRepo;
  const asUser = isRoot() ? NOBODY : {};

  before(async () => {
    t = await TestRepo.create(asUser);
  });
  after(async () => {
    await t?.cleanup();
  });

  /** A source tree readable by the backup user (dirs 0755, files 0644) under the 0777 scratch dir. */
  async function source(name: string, spec: Record<string, string>): Promise<string> {
    const src = t.path(name);
    await writeTree(src, spec);
    return src;
  }

  test('an unreadable file: warning naming it, exit 3, the rest saved and restorable', async () => {
    const src = await source('src', {
      'ok1.txt': 'readable one\n',
      'sub/ok2.txt': 'readable two\n',
      'secret.txt': 'nobody may read this\n',
      'zz-after.txt': 'a file after the unreadable one\n',
    });
    await writeRandomFile(path.join(src, 'sub/ok3.bin'), 1024 * 1024 + 5);
    await fsp.chmod(path.join(src, 'secret.txt'), 0o000);

    const r = await t.run(['backup', src, '--json']);
    assert.equal(r.code, 3, describeRun(r));
    assert.match(r.stderr, /secret\.txt/, 'stderr names the unreadable file');
    const report = parseJson<BackupResult>(r);
    assert.match(report.id, /^[0-9a-f]{64}$/);
    assert.ok(report.stats.errors >= 1, `stats.errors ${report.stats.errors}`);
    assert.ok(Array.isArray(report.warnings) && report.warnings.some((w) => w.includes('secret.txt')), `warnings ${JSON.stringify(report.warnings)}`);
    for (const line of r.stderr.split('\n').filter((l) => l.includes('secret.txt'))) {
      assert.ok(!/^\s+at /.test(line), 'no stack trace');
    }

    const snaps = await t.snapshots();
    assert.deepEqual(snaps.map((s) => s.id), [report.id], 'the snapshot was made');

    const ls = (await t.ls(report.id)).map((e) => e.path);
    for (const p of ['ok1.txt', 'sub', 'sub/ok2.txt', 'sub/ok3.bin', 'zz-after.txt']) assert.ok(ls.includes(p), `${p} in the snapshot: ${JSON.stringify(ls)}`);
    assert.ok(!ls.includes('secret.txt'), 'a file that could not be read is not recorded as if it had content');

    const target = await t.restore(report.id, t.path('restore'));
    await compareTrees(src, target, { ignore: (p) => p === 'secret.txt' });
  });

  test('once readable again, the next backup picks the file up (it was not recorded as unchanged)', async () => {
    const src = t.path('src');
    await fsp.chmod(path.join(src, 'secret.txt'), 0o644);
    const b = await t.backup([src]);
    assert.equal(b.stats.errors, 0);
    assert.ok(b.stats.newFiles + b.stats.changedFiles >= 1, `the file was read: ${JSON.stringify(b.stats)}`);
    const target = await t.restore(b.id, t.path('restore-2'));
    await compareTrees(src, target);
    assert.equal(await fsp.readFile(path.join(target, 'secret.txt'), 'utf8'), 'nobody may read this\n');
  });

  test('an unreadable directory: warning naming it, exit 3, the rest saved', async () => {
    const src = await source('src-dir', {
      'fine.txt': 'fine\n',
      'locked/hidden.txt': 'behind a 0000 directory\n',
      'zz/also-fine.txt': 'also fine\n',
    });
    await fsp.chmod(path.join(src, 'locked'), 0o000);
    try {
      const r = await t.run(['backup', src, '--json']);
      assert.equal(r.code, 3, describeRun(r));
      assert.match(r.stderr, /locked/, 'stderr names the unreadable directory');
      const report = parseJson<BackupResult>(r);
      const ls = (await t.ls(report.id)).map((e) => e.path);
      assert.ok(ls.includes('fine.txt') && ls.includes('zz/also-fine.txt'), JSON.stringify(ls));
      assert.ok(!ls.includes('locked/hidden.txt'));
      const target = await t.restore(report.id, t.path('restore-dir'));
      assert.equal(await fsp.readFile(path.join(target, 'fine.txt'), 'utf8'), 'fine\n');
      assert.equal(await fsp.readFile(path.join(target, 'zz/also-fine.txt'), 'utf8'), 'also fine\n');
    } finally {
      await fsp.chmod(path.join(src, 'locked'), 0o755);
    }
  });
});

describe('files that change or are not regular', () => {
  let t: TestRepo;
  before(async () => {
    t = await TestRepo.create();
  });
  after(async () => {
    await t?.cleanup();
  });

  test('a file appended to while it is read: warning naming it, exit 3, the rest saved', { timeout: 170_000 }, async () => {
    const src = t.path('changing');
    await writeTree(src, { 'stable.txt': 'stable\n' });
    const growing = path.join(src, 'growing.log');
    await writeRandomFile(growing, 48 * 1024 * 1024);
    const line = Buffer.from('another log line appended during the backup\n');
    const timer = setInterval(() => appendFileSync(growing, line), 1);
    let r;
    try {
      r = await t.run(['backup', src, '--json']);
    } finally {
      clearInterval(timer);
    }
    assert.equal(r.code, 3, describeRun(r));
    assert.match(r.stderr, /growing\.log/);
    const report = parseJson<BackupResult>(r);
    const ls = (await t.ls(report.id)).map((e) => e.path);
    assert.ok(ls.includes('stable.txt'));
  });

  test('a FIFO in the tree does not hang the backup; regular files are saved', { timeout: 120_000 }, async () => {
    const src = t.path('fifo');
    await writeTree(src, { 'a.txt': 'a\n', 'z.txt': 'z\n' });
    execFileSync('mkfifo', [path.join(src, 'pipe')]);
    const r = await t.run(['backup', src, '--json'], { timeoutMs: 90_000 });
    assert.ok(!r.timedOut, 'backup hung on a FIFO');
    assert.ok(r.code === 0 || r.code === 3, describeRun(r));
    const report = parseJson<BackupResult>(r);
    const target = await t.restore(report.id, t.path('restore-fifo'));
    assert.equal(await fsp.readFile(path.join(target, 'a.txt'), 'utf8'), 'a\n');
    assert.equal(await fsp.readFile(path.join(target, 'z.txt'), 'utf8'), 'z\n');
  });
});
