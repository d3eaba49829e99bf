import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { appendFileSync, closeSync, constants, lstatSync, openSync, truncateSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { MemoryBackend } from '../../src/storage/MemoryBackend.js';
import { LocalBackend } from '../../src/storage/LocalBackend.js';
import type { Backend } from '../../src/storage/Backend.js';
import { Repository } from '../../src/repo/repository.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';
import type { Snapshot } from '../../src/repo/snapshot.js';
import { makeChunker } from '../../src/repo/chunker.js';
import { prestartBlobWorkers } from '../../src/repo/blobWorkers.js';
import { TreeLoader } from '../../src/repo/treeLoader.js';
import { encodeTree, type Tree, type TreeNode } from '../../src/repo/tree.js';

const small = { packSize: 1024 * 1024, chunker: { min: 4096, avg: 16384, max: 65536 } };

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'ocv-repo-'));
}

/**
 * Runs `body` with a new repository (its packs in memory, in `cache`/repo, or in the backend given) whose cache is
 * `cache`; closes it and removes `cache` after, whatever happens: a failed assertion must not
 * leave blob workers keeping the test alive.
 */
async function withNewRepository(store: 'memory' | 'local' | Backend, configOverrides: typeof small | undefined, body: (repo: Repository, cache: string, backend: Backend) => Promise<void>): Promise<void> {
  const cache = await tempDir();
  const backend = store === 'memory' ? new MemoryBackend() : store === 'local' ? new LocalBackend(path.join(cache, 'repo')) : store;
  let repo: Repository | undefined;
  try {
    repo = await Repository.init(backend, { password: 'pw', cacheDir: cache, configOverrides });
    await body(repo, cache, backend);
  } finally {
    await repo?.close().catch(() => undefined);
    await rm(cache, { recursive: true, force: true });
  }
}

/** `p`, or a failure saying it hung after 10 s: a task a worker never answers fails the test instead of stalling it. */
function deadline<T>(p: Promise<T>): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('hung')), 10_000).unref())]);
}

function snap(tree: string, time: string): Snapshot {
  return {
    version: 1, time, host: 'h', user: 'u', kind: 'full', tags: [], paths: ['/p'], tree,
    stats: { files: 0, dirs: 0, bytes: 0, newFiles: 0, changedFiles: 0, unchangedFiles: 0, addedBytes: 0, addedBlobs: 0, durationMs: 0, errors: 0 },
  };
}

test('repository: blobs saved, flushed and read back; a fresh cache rebuilds the index from the segments', async () => {
  const backend = new MemoryBackend();
  const cache1 = await tempDir();
  const cache2 = await tempDir();
  try {
    const repo = await Repository.init(backend, { password: 'pw', cacheDir: cache1, configOverrides: small });
    const blobs = Array.from({ length: 40 }, () => randomBytes(50_000));
    const ids: string[] = [];
    for (const b of blobs) ids.push((await repo.saveBlob('data', b)).id);
    assert.equal((await repo.saveBlob('data', blobs[0]!)).added, 0, 'a repeated blob adds nothing');
    await repo.flush();
    assert.ok((await backend.list('data')).length >= 2, 'several packs of ~1 MiB');
    await repo.saveSnapshot(snap(ids[0]!, '2026-01-01T00:00:00Z'));
    await repo.close();

    const again = await Repository.open(backend, { password: 'pw', cacheDir: cache2 });
    for (let i = 0; i < blobs.length; i++) assert.deepEqual(await again.loadBlob(ids[i]!), blobs[i]);
    assert.equal(again.snapshots().length, 1);
    assert.equal(again.resolveSnapshot('latest').snapshot.tree, ids[0]);
    await again.close();
  } finally {
    await rm(cache1, { recursive: true, force: true });
    await rm(cache2, { recursive: true, force: true });
  }
});

test('repository: wrong password, missing repository and snapshot references are clear errors', async () => {
  const backend = new MemoryBackend();
  const cache = await tempDir();
  try {
    const repo = await Repository.init(backend, { password: 'right', cacheDir: cache });
    const a = await repo.saveSnapshot(snap(randomBytes(32).toString('hex'), '2026-01-01T00:00:00Z'));
    await repo.saveSnapshot(snap(randomBytes(32).toString('hex'), '2026-01-02T00:00:00Z'));
    assert.equal(repo.resolveSnapshot(a.slice(0, 10)).id, a);
    assert.throws(() => repo.resolveSnapshot('zzzz'), (e: unknown) => e instanceof OcvaultError && e.code === 'SnapshotNotFound');
    assert.throws(() => repo.resolveSnapshot(''), (e: unknown) => e instanceof OcvaultError && e.code === 'SnapshotNotFound');
    await repo.close();
    await assert.rejects(Repository.open(backend, { password: 'wrong', cacheDir: cache }), (e: unknown) => e instanceof OcvaultError && e.code === 'WrongPassword');
    await assert.rejects(Repository.open(new MemoryBackend(), { password: 'right', cacheDir: cache }), (e: unknown) => e instanceof OcvaultError && e.code === 'RepositoryNotFound');
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

test('repository: a damaged pack is reported by name when a blob in it is read', async () => {
  const backend = new MemoryBackend();
  const cache = await tempDir();
  try {
    const repo = await Repository.init(backend, { password: 'pw', cacheDir: cache });
    const { id } = await repo.saveBlob('data', randomBytes(10_000));
    await repo.flush();
    const [pack] = await backend.list('data');
    const bytes = await backend.load('data', pack!.name);
    bytes[100]! ^= 1;
    await backend.save('data', pack!.name, bytes);
    await assert.rejects(repo.loadBlob(id), (e: unknown) => e instanceof OcvaultError && e.code === 'CorruptObject' && e.message.includes(pack!.name));
    await repo.close();
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

for (const store of ['memory', 'local'] as const) {
  // memory: workers hand sealed blobs to the main thread; local: they write packs of their own
  test(`blob workers (${store} store): a file chunked in a worker restores to the same bytes, and known blobs are not sealed again`, async () => {
    await withNewRepository(store, small, async (repo, cache, backend) => {
      const workers = repo.startWorkers(2);
      const file = path.join(cache, 'f.bin');
      const data = randomBytes(3 * 1024 * 1024 + 123);
      await writeFile(file, data);
      const first = await workers.chunkFile(file);
      await repo.flush();
      assert.equal(first.size, data.length);
      assert.ok(first.added.bytes >= data.length);
      assert.equal(first.added.blobs, new Set(first.content).size);
      const parts = await Promise.all(first.content.map((id) => repo.loadBlob(id)));
      assert.deepEqual(Buffer.concat(parts), data);
      const second = await workers.chunkFile(file);
      assert.deepEqual(second.content, first.content);
      assert.deepEqual(second.added, { blobs: 0, bytes: 0 }, 'nothing re-sealed for stored content');
      const packs = await backend.list('data');
      const packBytes = packs.reduce((n, p) => n + p.size, 0);
      assert.ok(packBytes < first.added.bytes + 64 * 1024, `packs hold each blob once (${packBytes} bytes for ${first.added.bytes})`);
    });
  });

  test(`blob workers (${store} store): the same file chunked by both workers at once is stored once`, async () => {
    await withNewRepository(store, small, async (repo, cache, backend) => {
      const workers = repo.startWorkers(2);
      const data = randomBytes(4 * 1024 * 1024);
      const files = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
        const f = path.join(cache, `copy-${i}.bin`);
        await writeFile(f, data);
        return f;
      }));
      const results = await Promise.all(files.map((f) => workers.chunkFile(f)));
      await repo.flush();
      const added = results.reduce((n, r) => n + r.added.blobs, 0);
      assert.equal(added, new Set(results[0]!.content).size, 'each chunk stored by exactly one task');
      for (const r of results) assert.deepEqual(r.content, results[0]!.content);
      assert.deepEqual(Buffer.concat(await Promise.all(results[0]!.content.map((id) => repo.loadBlob(id)))), data);
      const packBytes = (await backend.list('data')).reduce((n, p) => n + p.size, 0);
      assert.ok(packBytes < data.length + 256 * 1024, `one copy stored (${packBytes} bytes of packs for ${data.length})`);
    });
  });
}

test('blob workers: a file in a compressed format is stored raw without a trial, others are compressed; both read back exact', async () => {
  await withNewRepository('local', small, async (repo, cache) => {
    const workers = repo.startWorkers(2);
    // text that zstd shrinks ~10x, once plain and once (other lines, so no chunk is shared)
    // behind a PNG signature
    const lines = (word: string): Buffer => Buffer.from(Array.from({ length: 20_000 }, (_, i) => `${word} ${i}: lorem ipsum dolor sit amet\n`).join(''));
    const text = lines('row');
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), lines('pixel')]);
    await writeFile(path.join(cache, 'a.txt'), text);
    await writeFile(path.join(cache, 'b.png'), png);
    const plain = await workers.chunkFile(path.join(cache, 'a.txt'));
    const image = await workers.chunkFile(path.join(cache, 'b.png'));
    await repo.flush();
    assert.ok(plain.added.bytes < text.length / 4, `text compressed (${plain.added.bytes} of ${text.length})`);
    assert.ok(image.added.bytes > png.length, `compressed format stored raw (${image.added.bytes} of ${png.length})`);
    assert.ok(image.content.length > 1, 'every chunk of the file, not only the first, is stored raw');
    assert.deepEqual(Buffer.concat(await Promise.all(plain.content.map((id) => repo.loadBlob(id)))), text);
    assert.deepEqual(Buffer.concat(await Promise.all(image.content.map((id) => repo.loadBlob(id)))), png);
  });
});

test('blob workers: streaming reads cut exactly where chunking the whole file at once would', async () => {
  await withNewRepository('memory', undefined, async (repo, cache) => {
    const workers = repo.startWorkers(1);
    // Long zero runs have no boundary, so the read buffer must grow up to the maximum size.
    const data = Buffer.concat([randomBytes(5 * 1024 * 1024), Buffer.alloc(12 * 1024 * 1024), randomBytes(7 * 1024 * 1024 + 99)]);
    const file = path.join(cache, 'f.bin');
    await writeFile(file, data);
    const got = await workers.chunkFile(file);
    const chunker = makeChunker(repo.master.chunker, repo.config.chunker);
    const expected: string[] = [];
    for (let start = 0; start < data.length; ) {
      const n = chunker.cut(data, start, data.length);
      expected.push(repo.hasher.keyed(repo.master.id, data.subarray(start, start + n)).toString('hex'));
      start += n;
    }
    assert.deepEqual(got.content, expected);
    await repo.flush();
    assert.deepEqual(Buffer.concat(await Promise.all(got.content.map((id) => repo.loadBlob(id)))), data);
  });
});

test('blob workers: files asked for together are answered each on its own; one that vanished fails alone', async () => {
  await withNewRepository('local', small, async (repo, cache) => {
    const workers = repo.startWorkers(1);
    // asked for in one turn of the event loop, so one worker gets them in the same message
    const data = [randomBytes(300_000), randomBytes(5), randomBytes(2 * 1024 * 1024)];
    const files = data.map((_, i) => path.join(cache, `f${i}.bin`));
    await Promise.all(files.map((f, i) => writeFile(f, data[i]!)));
    const asked = [files[0]!, path.join(cache, 'vanished.bin'), files[1]!, files[2]!, files[0]!];
    const results = await Promise.allSettled(asked.map((f) => deadline(workers.chunkFile(f))));
    await repo.flush();
    assert.equal(results[1]!.status, 'rejected');
    assert.equal((results[1] as PromiseRejectedResult).reason.code, 'ENOENT');
    const expected = [data[0]!, undefined, data[1]!, data[2]!, data[0]!];
    for (let i = 0; i < asked.length; i++) {
      if (i === 1) continue;
      const r = results[i]!;
      assert.equal(r.status, 'fulfilled', `file ${i}`);
      const got = (r as PromiseFulfilledResult<Awaited<ReturnType<typeof workers.chunkFile>>>).value;
      assert.equal(got.size, expected[i]!.length);
      assert.deepEqual(Buffer.concat(await Promise.all(got.content.map((id) => repo.loadBlob(id)))), expected[i]);
    }
  });
});

test('repository: open tells a command how many snapshots the store lists (what a backup starts early depends on it)', async () => {
  await withNewRepository('memory', undefined, async (repo, cache, backend) => {
    const seen: number[] = [];
    const opened = [await Repository.open(backend, { password: 'pw', cacheDir: cache, whileUnlocking: (l) => seen.push(l.snapshots) })];
    await repo.saveSnapshot(snap(await repo.saveBlob('tree', Buffer.from('{"nodes":[]}')).then((r) => r.id), '2026-01-01T00:00:00Z'));
    opened.push(await Repository.open(backend, { password: 'pw', cacheDir: cache, whileUnlocking: (l) => seen.push(l.snapshots) }));
    for (const r of opened) await r.close();
    assert.deepEqual(seen, [0, 1]);
  });
});

test('blob workers started before their pool: the pool takes them and works; unused ones do not keep a process alive', async () => {
  // a process that starts workers and never makes a pool ends by itself (a script file: an
  // `--input-type=module -e` script ended with workers still running)
  const dir = await mkdtemp(path.join(tmpdir(), 'ocvault-prestart-'));
  try {
    const script = path.join(dir, 'prestart.mjs');
    await writeFile(script, `import { prestartBlobWorkers } from ${JSON.stringify(new URL('../../src/repo/blobWorkers.js', import.meta.url).href)};\nprestartBlobWorkers(2);\n`);
    execFileSync(process.execPath, [script], { timeout: 20_000 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  prestartBlobWorkers(2);
  await withNewRepository('local', small, async (repo, cache) => {
    const workers = repo.startWorkers(2);
    const data = [randomBytes(700_000), randomBytes(900_000)];
    const files = data.map((_, i) => path.join(cache, `f${i}.bin`));
    await Promise.all(files.map((f, i) => writeFile(f, data[i]!)));
    const results = await Promise.all(files.map((f) => deadline(workers.chunkFile(f))));
    await repo.flush();
    for (let i = 0; i < files.length; i++) assert.deepEqual(Buffer.concat(await Promise.all(results[i]!.content.map((id) => repo.loadBlob(id)))), data[i]);
  });
});

test('blob workers: a worker that died fails the next flush and task at once instead of leaving them unanswered', async () => {
  await withNewRepository('local', small, async (repo, cache) => {
    const workers = repo.startWorkers(2);
    const file = path.join(cache, 'f.bin');
    await writeFile(file, randomBytes(200_000));
    await workers.chunkFile(file);
    // reach into the pool: a crash is what this simulates, and nothing public causes one
    const slots = (workers as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots;
    await slots[0]!.worker.terminate();
    await assert.rejects(deadline(repo.flush()), /blob worker exited/);
    const results = await Promise.allSettled([0, 1, 2, 3].map(() => deadline(workers.chunkFile(file))));
    assert.ok(results.some((r) => r.status === 'rejected' && /blob worker exited/.test(String(r.reason))), 'tasks given to the dead worker fail');
    assert.ok(results.every((r) => r.status === 'fulfilled' || !/hung/.test(String(r.reason))), 'nothing hangs');
  });
});

test('blob workers: a path that is no longer a regular file (a FIFO, a directory) is refused at once, never read or waited on', async () => {
  await withNewRepository('memory', undefined, async (repo, cache) => {
    const workers = repo.startWorkers(1);
    const fifo = path.join(cache, 'fifo');
    execFileSync('mkfifo', [fifo]);
    try {
      await assert.rejects(deadline(workers.chunkFile(fifo)), (e: NodeJS.ErrnoException) => e.code === 'ENOTREG');
    } finally {
      // a worker stuck opening the FIFO (the failure this guards against) could not be
      // terminated, and the test would hang instead of failing: a writer lets its open return
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // ENXIO: nobody has it open for reading, as it should be
      }
    }
    await assert.rejects(deadline(workers.chunkFile(cache)), (e: NodeJS.ErrnoException) => e.code === 'ENOTREG');
    // the worker goes on with the next file, and the stat it gives is the file's own
    const file = path.join(cache, 'f.bin');
    await writeFile(file, randomBytes(1000), { mode: 0o640 });
    const got = await workers.chunkFile(file);
    const st = lstatSync(file, { bigint: true });
    assert.deepEqual(got.before, { size: 1000, mtimeNs: st.mtimeNs.toString(), ctimeNs: st.ctimeNs.toString(), inode: Number(st.ino), mode: 0o640, uid: Number(st.uid), gid: Number(st.gid) });
  });
});

test('blob workers: a file that grows while it is read is reported as changed; one left alone is not', async () => {
  await withNewRepository('memory', undefined, async (repo, cache) => {
    const workers = repo.startWorkers(1);
    const still = path.join(cache, 'still.bin');
    await writeFile(still, randomBytes(100_000));
    assert.equal((await workers.chunkFile(still)).changed, false);
    // a sparse GiB takes the worker a good half second to read and cut; it grows 50 ms in
    const growing = path.join(cache, 'growing.bin');
    await writeFile(growing, '');
    truncateSync(growing, 1024 * 1024 * 1024);
    const reading = workers.chunkFile(growing);
    await new Promise((resolve) => setTimeout(resolve, 50));
    appendFileSync(growing, 'more');
    const got = await reading;
    assert.equal(got.changed, true, 'grown while read');
    assert.equal(got.before.size, 1024 * 1024 * 1024, 'the stat it was opened with');
  });
});

test('opening a repository while a prune replaces an index segment: the segment gone since the listing is listed again, not an error', async () => {
  // a prune writes the segments that supersede old ones before it deletes the old ones
  class PrunedMidOpen extends MemoryBackend {
    segment: string | undefined;
    replace: (() => Promise<void>) | undefined;
    override async load(type: Parameters<MemoryBackend['load']>[0], name: string, range?: Parameters<MemoryBackend['load']>[2]): Promise<Buffer> {
      if (type === 'index' && name === this.segment && this.replace) {
        const replace = this.replace;
        this.replace = undefined;
        await replace();
      }
      return super.load(type, name, range);
    }
  }
  const backend = new PrunedMidOpen();
  await withNewRepository(backend, small, async (writer, cache) => {
    const blob = randomBytes(50_000);
    const { id } = await writer.saveBlob('data', blob);
    await writer.flush();
    const [old] = (await backend.list('index')).map((o) => o.name);
    backend.segment = old;
    backend.replace = async () => {
      const seg = await writer.loadIndexSegment(old!);
      await writer.saveIndexSegment({ ...seg, supersedes: [old!] });
      await backend.remove('index', old!);
    };
    const reader = await Repository.open(backend, { password: 'pw', cacheDir: path.join(cache, 'reader') });
    try {
      assert.equal(backend.replace, undefined, 'the segment was replaced while the reader opened');
      assert.deepEqual(await reader.loadBlob(id), blob, 'the blob is found through the new segment');
    } finally {
      await reader.close();
    }
  });
});

test('tree loader: a tree and then its subtrees, located a directory at a time, load intact; a subtree the index lacks is named', async () => {
  await withNewRepository('memory', small, async (repo) => {
    const dirNode = (name: string, subtree: string): TreeNode => ({ name, type: 'dir', mode: 0o755, mtimeNs: '1000000000', subtree });
    const fileNode = (name: string): TreeNode => ({ name, type: 'file', mode: 0o644, mtimeNs: '2000000000', size: 0, content: [] });
    const leaves: { id: string; tree: Tree }[] = [];
    for (const name of ['a', 'b', 'c', 'd']) {
      const tree: Tree = { nodes: [fileNode(`${name}-1.txt`), fileNode(`${name}-2.txt`)] };
      leaves.push({ id: (await repo.saveBlob('tree', encodeTree(tree))).id, tree });
    }
    // a subtree id that no pack holds
    const missing = 'ab'.repeat(32);
    const root: Tree = { nodes: [...leaves.map((l, i) => dirNode(`d${i}`, l.id)), dirNode('gone', missing)] };
    const rootId = (await repo.saveBlob('tree', encodeTree(root))).id;
    await repo.flush();
    const loader = new TreeLoader(repo);
    assert.deepEqual(await loader.load(rootId), root);
    // in another order than the walk met them: each location is the subtree's own
    for (const l of [...leaves].reverse()) assert.deepEqual(await loader.load(l.id), l.tree);
    await assert.rejects(loader.load(missing), (e: unknown) => e instanceof OcvaultError && e.code === 'BlobNotFound' && e.message.includes(missing.slice(0, 12)));
  });
});
