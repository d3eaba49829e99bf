import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { dropBehind } from '../../src/storage/dropBehind.js';
import { LocalBackend } from '../../src/storage/LocalBackend.js';
import { nativeAddon } from '../../src/storage/nativeAddon.js';
import { TestRepo, expectCode, makeTempDir } from '../helpers/cli.js';
import { MiB, compareTrees, removeTree, writeRandomFile } from '../helpers/tree.js';

/**
 * What a reader that reads once leaves in the page cache. `fincore` (util-linux-extra) counts a
 * file's resident bytes; a file system without a page cache of its own (tmpfs) cannot drop
 * pages, and neither can a machine without the addon: both skip.
 */
function residentBytes(files: readonly string[]): number {
  let total = 0;
  for (const f of files) total += Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', f], { encoding: 'utf8' }).trim());
  return total;
}

function skipReason(dir: string): string | undefined {
  if (!nativeAddon()?.dropCached) return 'ocvault addon not built';
  try {
    execFileSync('fincore', ['--version']);
  } catch {
    return 'fincore (util-linux-extra) not installed';
  }
  if (execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim() === 'tmpfs') return 'temporary folder on tmpfs';
  return undefined;
}

/** Waits until the resident bytes of `files` fall to `atMost` (the drop runs in the thread pool); returns the last count. */
async function settleTo(files: readonly string[], atMost: number): Promise<number> {
  let now = residentBytes(files);
  for (let i = 0; i < 100 && now > atMost; i++) {
    await new Promise((r) => setTimeout(r, 20));
    now = residentBytes(files);
  }
  return now;
}

/**
 * Pages this machine's own reclaim may take from a file at any time, whatever ocvault does
 * (here DAMON pages out memory it judges cold, a page now and then even from a file just read).
 */
const STRAY = 16 * 4096;

/** Asserts that `bytes` of `file` are cached, give or take a stray page or two. */
function assertCached(file: string, bytes: number, what: string): void {
  const now = residentBytes([file]);
  assert.ok(now <= bytes && now >= bytes - STRAY, `${what}: ${now} bytes resident, expected ${bytes}`);
}

async function readWhole(files: readonly string[]): Promise<void> {
  for (const f of files) await fsp.readFile(f);
}

describe('reading once leaves nothing in the page cache', () => {
  test('LocalBackend.loadInto with { once: true } frees the range it read, and only that range', async (t) => {
    const dir = await makeTempDir('ocvault-drop-');
    try {
      const why = skipReason(dir);
      if (why) return t.skip(why);
      const b = new LocalBackend(path.join(dir, 'repo'));
      await b.create();
      const data = randomBytes(8 * MiB);
      const name = 'ab' + '0'.repeat(62);
      await b.save('data', name, data); // fsync'ed: its pages are clean, so they can be dropped
      const file = path.join(dir, 'repo', 'data', 'ab', name);
      await readWhole([file]);
      assertCached(file, 8 * MiB, 'the whole pack is cached before the reads');

      // read without the hint: everything stays
      const kept = Buffer.alloc(4 * MiB);
      await b.loadInto('data', name, { offset: 4 * MiB, length: 4 * MiB }, kept);
      assert.ok(kept.equals(data.subarray(4 * MiB)));
      await new Promise((r) => setTimeout(r, 100));
      assertCached(file, 8 * MiB, 'a read without the hint keeps its pages');

      // read once: the first half goes, the second half stays
      const once = Buffer.alloc(4 * MiB);
      await b.loadInto('data', name, { offset: 0, length: 4 * MiB }, once, { once: true });
      assert.ok(once.equals(data.subarray(0, 4 * MiB)), 'the bytes read are the bytes saved');
      await settleTo([file], 4 * MiB);
      assertCached(file, 4 * MiB, 'after reading the first half once');

      // an empty range drops nothing (to posix_fadvise a length of 0 would mean the whole file)
      await readWhole([file]);
      const fd = openSync(file, 'r');
      try {
        dropBehind(fd, 0, 0);
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        closeSync(fd);
      }
      assertCached(file, 8 * MiB, 'an empty range left the file cached');

      // a whole object read once goes too
      await readWhole([file]);
      assert.ok((await b.load('data', name, undefined, { once: true })).equals(data));
      const whole = await settleTo([file], 0);
      assert.equal(whole, 0, `resident after reading the whole pack once: ${whole} bytes`);
      await b.close();
    } finally {
      await removeTree(dir);
    }
  });

  test('neither a restore nor check --read-data leaves the repository in the page cache', async (t) => {
    const repo = await TestRepo.create();
    try {
      const why = skipReason(repo.base);
      if (why) return t.skip(why);
      const src = repo.path('src');
      await fsp.mkdir(src);
      for (let i = 0; i < 6; i++) await writeRandomFile(path.join(src, `f${i}`), 3 * MiB + i * 4099);
      await repo.backup([src]);
      const packs: string[] = [];
      for (const d of await fsp.readdir(path.join(repo.repo, 'data'))) {
        for (const f of await fsp.readdir(path.join(repo.repo, 'data', d))) packs.push(path.join(repo.repo, 'data', d, f));
      }
      let packBytes = 0;
      for (const p of packs) packBytes += (await fsp.stat(p)).size;
      execFileSync('sync');
      await readWhole(packs);
      assert.ok(residentBytes(packs) > packBytes * 0.9, 'the packs are cached before the restore');

      const target = await repo.restore('latest', repo.path('restored'));
      await compareTrees(src, target);
      // the pages at the edges of the pieces it read may stay: a page each
      const left = await settleTo(packs, packBytes * 0.05);
      assert.ok(left <= packBytes * 0.05, `${left} of the packs' ${packBytes} bytes still cached after the restore`);

      await readWhole(packs);
      assert.ok(residentBytes(packs) > packBytes * 0.9, 'the packs are cached before the check');
      expectCode(await repo.run(['check', '--read-data']), 0);
      const checked = await settleTo(packs, 0);
      assert.equal(checked, 0, `${checked} of the packs' ${packBytes} bytes still cached after check --read-data`);
    } finally {
      await repo.cleanup();
    }
  });
});
