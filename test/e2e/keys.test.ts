import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { TestRepo, describeRun, oneLine, parseJson, expectCode, type SnapshotInfo } from '../helpers/cli.js';
import { compareTrees, writeTree } from '../helpers/tree.js';

describe('keys: add and passwd', () => {
  let t: TestRepo;
  let src: string;
  let snapId: string;
  const pw1 = 'first password';
  const pw2 = 'second-password-ünïcode';
  const pw3 = 'third password from a file';
  const pw4 = 'changed first password';

  const snapshotsWith = (password: string) => t.run(['snapshots', '--json'], { env: { OCVAULT_PASSWORD: password } });

  before(async () => {
    t = await TestRepo.create({ password: pw1 });
    src = t.path('src');
    await writeTree(src, { 'a.txt': 'key test\n', 'sub/b.txt': 'more\n' });
    snapId = (await t.backup([src])).id;
  });
  after(async () => {
    await t?.cleanup();
  });

  test('a freshly initialised repository lists one key', async () => {
    const keys = await t.json<unknown[]>(['key', 'list', '--json']);
    assert.ok(Array.isArray(keys));
    assert.equal(keys.length, 1);
  });

  test('key add (OCVAULT_NEW_PASSWORD): the second password opens the repository, the first still does', async () => {
    await t.ok(['key', 'add'], { env: { OCVAULT_NEW_PASSWORD: pw2 } });
    const r2 = expectCode(await snapshotsWith(pw2), 0);
    assert.equal(parseJson<SnapshotInfo[]>(r2)[0]!.id, snapId);
    expectCode(await snapshotsWith(pw1), 0);
    const keys = await t.json<unknown[]>(['key', 'list', '--json']);
    assert.equal(keys.length, 2);
    // restore with the new key
    const target = t.path('restore-pw2');
    expectCode(await t.run(['restore', snapId, '--target', target], { env: { OCVAULT_PASSWORD: pw2 } }), 0);
    await compareTrees(src, target);
  });

  test('key add --new-password-file', async () => {
    const f = t.path('newpw');
    await fsp.writeFile(f, pw3 + '\n', { mode: 0o600 });
    await t.ok(['key', 'add', '--new-password-file', f]);
    expectCode(await snapshotsWith(pw3), 0);
    const keys = await t.json<unknown[]>(['key', 'list', '--json']);
    assert.equal(keys.length, 3);
  });

  test('key passwd: the new password works, the old one stops working, other keys are untouched', async () => {
    await t.ok(['key', 'passwd'], { env: { OCVAULT_NEW_PASSWORD: pw4 } });
    const ok = expectCode(await snapshotsWith(pw4), 0);
    assert.equal(parseJson<SnapshotInfo[]>(ok).length, 1);
    const old = await snapshotsWith(pw1);
    assert.equal(old.code, 1, `old password must fail with exit 1\n${describeRun(old)}`);
    assert.match(oneLine(old), /password/i);
    expectCode(await snapshotsWith(pw2), 0);
    t.password = pw4;
    const target = await t.restore('latest', t.path('restore-pw4'));
    await compareTrees(src, target);
  });

  test('a password that was never added does not open the repository', async () => {
    const r = await snapshotsWith('never added');
    assert.equal(r.code, 1, describeRun(r));
    assert.match(oneLine(r), /password/i);
    // with --json an error may also be reported as a JSON object on stdout, never as a listing
    if (r.stdout.trim() !== '') {
      const j = JSON.parse(r.stdout) as { error?: unknown };
      assert.ok(!Array.isArray(j) && j.error, `stdout holds an error, not data: ${r.stdout}`);
    }
  });
});
