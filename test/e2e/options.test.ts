import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TestRepo, expectCode, parseJson, type SnapshotInfo } from '../helpers/cli.js';
import { writeTree } from '../helpers/tree.js';

/** Global options: where the repository, the cache and the password come from. */
describe('global options', () => {
  let t: TestRepo;
  let snapId: string;

  before(async () => {
    t = await TestRepo.create();
    const src = t.path('src');
    await writeTree(src, { 'f.txt': 'options\n' });
    snapId = (await t.backup([src])).id;
  });
  after(async () => {
    await t?.cleanup();
  });

  const listOk = (r: Awaited<ReturnType<TestRepo['run']>>): void => {
    expectCode(r, 0);
    const snaps = parseJson<SnapshotInfo[]>(r);
    assert.equal(snaps.length, 1);
    assert.equal(snaps[0]!.id, snapId);
  };

  test('-r / --repo instead of OCVAULT_REPOSITORY', async () => {
    listOk(await t.run(['-r', t.repo, 'snapshots', '--json'], { env: { OCVAULT_REPOSITORY: undefined } }));
    listOk(await t.run(['--repo', t.repo, 'snapshots', '--json'], { env: { OCVAULT_REPOSITORY: undefined } }));
  });

  test('--password-file (with a trailing newline) and OCVAULT_PASSWORD_FILE', async () => {
    const f = t.path('pwfile');
    await fsp.writeFile(f, t.password + '\n', { mode: 0o600 });
    listOk(await t.run(['--password-file', f, 'snapshots', '--json'], { env: { OCVAULT_PASSWORD: undefined } }));
    listOk(await t.run(['snapshots', '--json'], { env: { OCVAULT_PASSWORD: undefined, OCVAULT_PASSWORD_FILE: f } }));
  });

  test('--password-command', async () => {
    const f = t.path('pwsource');
    await fsp.writeFile(f, t.password, { mode: 0o600 });
    listOk(await t.run(['--password-command', `cat ${f}`, 'snapshots', '--json'], { env: { OCVAULT_PASSWORD: undefined } }));
  });

  test('--cache-dir instead of OCVAULT_CACHE_DIR', async () => {
    const c = t.path('cache-flag');
    listOk(await t.run(['--cache-dir', c, 'snapshots', '--json'], { env: { OCVAULT_CACHE_DIR: undefined } }));
    const st = await fsp.stat(c);
    assert.ok(st.isDirectory(), 'the cache was made where --cache-dir points');
    assert.ok((await fsp.readdir(c)).length > 0, 'and holds something');
  });

  test('without a cache option the cache is $XDG_CACHE_HOME/ocvault/<repo-id>', async () => {
    const xdg = t.path('xdg-default');
    await fsp.mkdir(xdg);
    const config = JSON.parse(await fsp.readFile(path.join(t.repo, 'config'), 'utf8')) as { id: string };
    listOk(await t.run(['snapshots', '--json'], { env: { OCVAULT_CACHE_DIR: undefined, XDG_CACHE_HOME: xdg } }));
    const dir = path.join(xdg, 'ocvault', config.id);
    assert.ok((await fsp.stat(dir)).isDirectory(), `${dir} exists`);
    assert.deepEqual(await fsp.readdir(path.join(xdg, 'ocvault')), [config.id]);
  });

  test('--quiet: a backup prints nothing on stdout; snapshots without --json is readable text', async () => {
    const q = await t.run(['--quiet', 'backup', t.path('src')]);
    expectCode(q, 0);
    assert.equal(q.stdout, '', 'quiet backup printed a summary');
    const text = await t.run(['snapshots']);
    expectCode(text, 0);
    assert.ok(text.stdout.includes(snapId.slice(0, 8)), `human listing names ${snapId.slice(0, 8)}:\n${text.stdout}`);
    assert.throws(() => JSON.parse(text.stdout), 'without --json the listing is not JSON');
  });

  test('init prints the repository id', async () => {
    const config = JSON.parse(await fsp.readFile(path.join(t.repo, 'config'), 'utf8')) as { id: string };
    assert.ok(t.initOutput.includes(config.id), `init output ${JSON.stringify(t.initOutput)} names the id ${config.id}`);
  });
});
