import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TestRepo, describeRun, listFiles, makeTempDir, oneLine, runOcvault, type BackupResult, type RunResult } from '../helpers/cli.js';
import { MiB, removeTree, sha256File, writeRandomFile, writeTree } from '../helpers/tree.js';

const noStack = (r: RunResult): void => {
  assert.ok(!/^\s+at .+\(?.*:\d+:\d+\)?$/m.test(r.stderr), `no stack trace on stderr\n${describeRun(r)}`);
};

describe('errors: one clear line and the right exit code', () => {
  let t: TestRepo;
  let src: string;
  let snap: BackupResult;

  before(async () => {
    t = await TestRepo.create();
    src = t.path('src');
    await writeTree(src, { 'a.txt': 'a\n', 'b/c.txt': 'c\n' });
    snap = await t.backup([src]);
  });
  after(async () => {
    await t?.cleanup();
  });

  test('wrong password: exit 1, one line mentioning the password', async () => {
    for (const args of [['snapshots', '--json'], ['restore', 'latest', '--target', t.path('nope')], ['backup', src]]) {
      const r = await t.run(args, { env: { OCVAULT_PASSWORD: 'definitely wrong' } });
      assert.equal(r.code, 1, describeRun(r));
      assert.match(oneLine(r), /password/i);
      noStack(r);
    }
    await assert.rejects(fsp.lstat(t.path('nope')), 'nothing restored with a wrong password');
    assert.equal((await t.snapshots()).length, 1, 'no snapshot made with a wrong password');
  });

  test('no password at all: exit 1, one line mentioning the password', async () => {
    const r = await t.run(['snapshots', '--json'], { env: { OCVAULT_PASSWORD: undefined } });
    assert.equal(r.code, 1, describeRun(r));
    assert.match(oneLine(r), /password/i);
  });

  test('missing repository: exit 1, one line naming the path, nothing created', async () => {
    const missing = t.path('no-such-repo');
    for (const args of [['snapshots', '--json'], ['backup', src], ['restore', 'latest', '--target', t.path('nope2')]]) {
      const r = await t.run(args, { env: { OCVAULT_REPOSITORY: missing } });
      assert.equal(r.code, 1, describeRun(r));
      assert.ok(oneLine(r).includes(missing), `the message names ${missing}\n${describeRun(r)}`);
      noStack(r);
    }
    await assert.rejects(fsp.lstat(missing), 'the missing repository was not created');
  });

  test('no repository given at all: a usage error or exit 1, one line', async () => {
    const r = await t.run(['snapshots'], { env: { OCVAULT_REPOSITORY: undefined } });
    assert.ok(r.code === 1 || r.code === 2, describeRun(r));
    assert.match(oneLine(r), /repo/i);
  });

  test('init on an existing repository: exit 1, and the repository is untouched', async () => {
    const before = await listFiles(t.repo);
    const config = await fsp.readFile(path.join(t.repo, 'config'));
    const r = await t.run(['init']);
    assert.equal(r.code, 1, describeRun(r));
    oneLine(r);
    assert.deepEqual(await fsp.readFile(path.join(t.repo, 'config')), config);
    assert.deepEqual((await listFiles(t.repo)).filter((f) => !f.includes('/locks/')).sort(), before.filter((f) => !f.includes('/locks/')).sort());
    assert.equal((await t.snapshots())[0]!.id, snap.id);
  });

  test('unknown snapshot: exit 1, one line', async () => {
    const r = await t.run(['restore', 'ffffffffffff', '--target', t.path('nope3')]);
    assert.equal(r.code, 1, describeRun(r));
    assert.match(oneLine(r), /ffffffffffff|snapshot/i);
  });

  test('a backup path that does not exist: non-zero exit naming it, no snapshot claiming it', async () => {
    const missing = t.path('src', 'no-such-dir');
    const r = await t.run(['backup', missing, '--json']);
    assert.ok(r.code === 1 || r.code === 3, describeRun(r));
    assert.ok(r.stderr.includes(missing) || r.stderr.includes('no-such-dir'), `stderr names the missing path\n${describeRun(r)}`);
    noStack(r);
  });

  test('--password-file naming a missing file: exit 1 naming it', async () => {
    const f = t.path('no-such-password-file');
    const r = await t.run(['--password-file', f, 'snapshots'], { env: { OCVAULT_PASSWORD: undefined } });
    assert.equal(r.code, 1, describeRun(r));
    assert.ok(oneLine(r).includes(f), describeRun(r));
  });

  test('usage errors exit 2', async () => {
    const cases: string[][] = [
      ['frobnicate'],
      ['backup', src, '--type', 'weekly'],
      ['restore', 'latest'],
      ['backup', src, '--no-such-option'],
      ['ls'],
      ['backup', src, '--time', 'not a time'],
    ];
    const count = (await t.snapshots()).length;
    for (const args of cases) {
      const r = await t.run(args);
      assert.equal(r.code, 2, describeRun(r));
      assert.ok(r.stderr.trim().length > 0, `a message on stderr\n${describeRun(r)}`);
      noStack(r);
    }
    assert.equal((await t.snapshots()).length, count, 'usage errors made no snapshot');
  });
});

describe('corrupt objects: exit 1 naming the object, no claim of success', () => {
  let t: TestRepo;
  let src: string;
  let snap: BackupResult;
  let bigHash: string;

  before(async () => {
    t = await TestRepo.create();
    src = t.path('src');
    await writeTree(src, { 'small.txt': 'small\n' });
    await writeRandomFile(path.join(src, 'big.bin'), 6 * MiB);
    await fsp.chmod(path.join(src, 'big.bin'), 0o644);
    await fsp.utimes(path.join(src, 'big.bin'), new Date('2021-05-06T07:08:09.123Z'), new Date('2021-05-06T07:08:09.123Z'));
    bigHash = await sha256File(path.join(src, 'big.bin'));
    snap = await t.backup([src]);
  });
  after(async () => {
    await t?.cleanup();
  });

  test('one flipped byte in a data pack: restore exits 1 naming the pack or blob', async () => {
    const packs = (await listFiles(path.join(t.repo, 'data'))).filter((f) => /[\\/]data[\\/][0-9a-f]{2}[\\/][0-9a-f]+$/.test(f));
    assert.ok(packs.length > 0, 'data packs under repo/data/xx/');
    let biggest = packs[0]!;
    for (const p of packs) if ((await fsp.stat(p)).size > (await fsp.stat(biggest)).size) biggest = p;
    const size = (await fsp.stat(biggest)).size;
    assert.ok(size > 5 * MiB, `the biggest pack holds the random file (${size} bytes)`);
    const packName = path.basename(biggest);
    const offset = Math.floor(size / 2);
    const fh = await fsp.open(biggest, 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0] = b[0]! ^ 0x01;
    await fh.write(b, 0, 1, offset);
    await fh.close();

    const target = t.path('restore-corrupt');
    const r = await t.run(['restore', snap.id, '--target', target]);
    assert.equal(r.code, 1, describeRun(r));
    noStack(r);
    const errLines = r.stderr.split('\n').filter((l) => l.trim());
    assert.ok(errLines.length >= 1);
    const namesObject = r.stderr.includes(packName.slice(0, 8)) || /\b[0-9a-f]{12,64}\b/.test(r.stderr);
    assert.ok(namesObject, `stderr names the damaged pack ${packName.slice(0, 12)} or blob\n${describeRun(r)}`);
    assert.match(r.stderr, /corrupt|damaged|integrity|verif|authenticat|mismatch|invalid/i);
    assert.doesNotMatch(r.stdout + r.stderr, /\b(restored|success|complete|done)\b/i, 'no claim of success');
    // the damaged bytes were never written out: a partly restored big.bin may be left (a hole of
    // zeros where the bad blob was), but not one holding the corrupted data, nor one that looks
    // finished (original mode and mtime)
    const out = path.join(target, 'big.bin');
    const st = await fsp.stat(out).catch(() => undefined);
    if (st) {
      const got = await fsp.readFile(out);
      const orig = await fsp.readFile(path.join(src, 'big.bin'));
      let badBlocks = 0;
      for (let o = 0; o < got.length; o += 4096) {
        const g = got.subarray(o, o + 4096);
        const w = orig.subarray(o, o + 4096);
        if (!g.equals(w) && g.some((x, i) => x !== w[i] && x !== 0)) badBlocks++;
      }
      assert.equal(badBlocks, 0, 'big.bin holds bytes that are neither the original nor an unwritten hole: damaged data was written');
      if (await sha256File(out) !== bigHash) {
        const looksFinished = (st.mode & 0o7777) === 0o644 && Math.abs(st.mtimeMs - Date.parse('2021-05-06T07:08:09.123Z')) < 1;
        assert.ok(!looksFinished, 'an incomplete big.bin was given the original mode and mtime, as if restored');
      }
    }
  });

  test('a flipped byte in a snapshot object: exit 1 naming the snapshot', async () => {
    const file = path.join(t.repo, 'snapshots', snap.id);
    const data = await fsp.readFile(file);
    data[Math.floor(data.length / 2)] ^= 0x01;
    await fsp.writeFile(file, data);
    await fsp.rm(t.cache, { recursive: true, force: true }); // make it read the repository, not a cached copy
    const target = t.path('restore-corrupt-snap');
    const r = await t.run(['restore', snap.id, '--target', target]);
    assert.equal(r.code, 1, describeRun(r));
    assert.ok(r.stderr.includes(snap.id.slice(0, 8)), `names the snapshot\n${describeRun(r)}`);
    noStack(r);
  });
});

describe('a repository path that is not a repository', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir();
  });
  after(async () => {
    await removeTree(dir);
  });

  test('an empty directory: exit 1 naming it', async () => {
    const r = await runOcvault(['snapshots', '--json'], {
      env: { OCVAULT_REPOSITORY: dir, OCVAULT_PASSWORD: 'x', OCVAULT_CACHE_DIR: path.join(dir, 'cache'), XDG_CACHE_HOME: dir },
    });
    assert.equal(r.code, 1, describeRun(r));
    assert.ok(oneLine(r).includes(dir), describeRun(r));
  });
});
