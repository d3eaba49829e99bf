import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestRepo, describeRun, expectCode, listFiles, parseJson, type BackupResult } from '../helpers/cli.js';
import { MiB, compareTrees, writeRandomFile, writeTree } from '../helpers/tree.js';

/** Data packs under repo/data/xx/ and their total size. */
async function packs(repo: string): Promise<{ count: number; bytes: number }> {
  const files = (await listFiles(path.join(repo, 'data'))).filter((f) => /[\\/]data[\\/][0-9a-f]{2}[\\/][^/]+$/.test(f) && !f.endsWith('.tmp'));
  let bytes = 0;
  for (const f of files) bytes += (await fsp.stat(f)).size;
  return { count: files.length, bytes };
}

/**
 * "Nothing written is ever half-visible": a backup killed with SIGKILL after it has written packs
 * leaves a valid repository (no snapshot, a stale lock that is detected), and the next backup
 * succeeds and restores exactly.
 */
describe('a backup killed mid-way', () => {
  let t: TestRepo;
  let src: string;
  // big enough that the backup is still running when the first pack shows (direct writes made it fast)
  const total = 144 * MiB;
  let retry: BackupResult | undefined;
  let packsBeforeRetry = 0;

  before(async () => {
    t = await TestRepo.create();
    src = t.path('src');
    await fsp.mkdir(src);
    for (let i = 0; i < 6; i++) await writeRandomFile(path.join(src, `part-${i}.bin`), total / 6);
  });
  after(async () => {
    await t?.cleanup();
  });

  test('SIGKILL after the first pack: valid repository, stale lock ignored, next backup completes', { timeout: 170_000 }, async () => {
    const run = t.start(['backup', src, '--json']);
    let exited = false;
    void run.done.then(() => (exited = true));
    let seen = { count: 0, bytes: 0 };
    const t0 = Date.now();
    while (!exited && Date.now() - t0 < 120_000) {
      seen = await packs(t.repo);
      if (seen.count >= 1) break;
      await sleep(10);
    }
    if (exited) {
      const r = await run.done;
      assert.fail(`the backup finished before it could be interrupted (no pack seen); make the data bigger\n${describeRun(r)}`);
    }
    run.child.kill('SIGKILL');
    const killed = await run.done;
    assert.equal(killed.signal, 'SIGKILL', describeRun(killed));
    assert.ok(seen.count >= 1);

    // the repository is valid and holds no (half) snapshot
    assert.deepEqual(await t.snapshots(), []);

    // the dead process's lock (same host, dead pid) must not block the next backup
    const before = await packs(t.repo);
    const r = await t.run(['backup', src, '--json']);
    expectCode(r, 0);
    const b = parseJson<BackupResult>(r);
    assert.equal(b.stats.files, 6);
    assert.equal(b.stats.bytes, total);
    const snaps = await t.snapshots();
    assert.deepEqual(snaps.map((s) => s.id), [b.id]);
    const target = await t.restore(b.id, t.path('restore'));
    await compareTrees(src, target);
    await fsp.rm(target, { recursive: true, force: true });
    packsBeforeRetry = before.bytes;
    retry = b;
  });

  test('what the killed run had already uploaded is reused, not stored a second time', () => {
    assert.ok(retry, 'the previous test made the retry backup');
    const b = retry;
    const before = { bytes: packsBeforeRetry };
    assert.ok(
      b.stats.addedBytes <= total - before.bytes * 0.9 + 2 * MiB,
      `the second run added ${b.stats.addedBytes} bytes although ${before.bytes} bytes of packs were already in the repository (data ${total})`,
    );
  });
});

describe('two backups at the same time', () => {
  let t: TestRepo;
  before(async () => {
    t = await TestRepo.create();
  });
  after(async () => {
    await t?.cleanup();
  });

  test('both succeed (shared locks), both snapshots restore', { timeout: 170_000 }, async () => {
    const a = t.path('a');
    const b = t.path('b');
    await writeTree(a, { 'a.txt': 'tree a\n' });
    await writeTree(b, { 'b.txt': 'tree b\n' });
    await writeRandomFile(path.join(a, 'a.bin'), 6 * MiB);
    await writeRandomFile(path.join(b, 'b.bin'), 6 * MiB);
    // and some data both share, written concurrently
    await writeRandomFile(path.join(a, 'shared.bin'), 4 * MiB);
    await fsp.copyFile(path.join(a, 'shared.bin'), path.join(b, 'shared.bin'));
    const [ra, rb] = await Promise.all([t.run(['backup', a, '--json']), t.run(['backup', b, '--json'])]);
    expectCode(ra, 0);
    expectCode(rb, 0);
    const sa = parseJson<BackupResult>(ra);
    const sb = parseJson<BackupResult>(rb);
    assert.deepEqual((await t.snapshots()).map((s) => s.id).sort(), [sa.id, sb.id].sort());
    await compareTrees(a, await t.restore(sa.id, t.path('restore-a')));
    await compareTrees(b, await t.restore(sb.id, t.path('restore-b')));
    // a later unchanged backup of each still deduplicates
    const again = await t.backup([a]);
    assert.equal(again.parent, sa.id);
    assert.ok(again.stats.addedBytes < 0.01 * 10 * MiB, `addedBytes ${again.stats.addedBytes}`);
  });
});
