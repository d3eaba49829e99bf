import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TestRepo, describeRun, makeTempDir, runOcvault, type RunResult } from '../helpers/cli.js';
import { hashTree, removeTree } from '../helpers/tree.js';
import { LocalBackend } from '../../src/storage/LocalBackend.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';
import { Repository } from '../../src/repo/repository.js';
import { createKeyFile, encodeKeyFile } from '../../src/repo/keyFile.js';
import { blake3, type Blake3 } from '../../src/repo/hash.js';
import { decodeBlobPlain, encodeBlobPlain } from '../../src/repo/blobCodec.js';
import { backup } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';
import { check } from '../../src/ops/check.js';
import { repairIndex } from '../../src/ops/repairIndex.js';
import { openTolerant } from '../../src/ops/tolerantOpen.js';
import { assertCleanCliFailure, assertCleanError, fuzzSeed, mountTmpfs, mutate, MUTATION_KINDS, Prng, tmpfsUnavailable, within, type MutationKind, type Tmpfs } from './faultHelpers.js';

/**
 * Mutated repository objects — packs, index segments, snapshots, the key and the config: bit
 * flips, truncation, extension, zeroed and random ranges, emptied files, objects swapped
 * between names, and (unencrypted repository) mutated objects renamed to the hash of their new
 * bytes, so the decoders behind the name check are reached. Opening, listing, restoring,
 * check --read-data and repair index must never crash, hang or restore wrong data silently;
 * a failure is one line naming the damaged object.
 *
 * Normal mode: OCVAULT_FUZZ (default 300) mutations through the library plus a CLI sample for
 * exit codes and messages. Longer: OCVAULT_FUZZ=2000. Replay: OCVAULT_FUZZ_SEED=<printed seed>
 * (and OCVAULT_FUZZ_FROM=<mutation number> to run only from that mutation on).
 */
const MUTATIONS = Number(process.env.OCVAULT_FUZZ ?? 300);
const CLI_SAMPLE = Math.max(12, Math.round(MUTATIONS / 25));
/** replay: with the printed seed, mutations before this one are generated but not run */
const FROM = Number(process.env.OCVAULT_FUZZ_FROM ?? 0);
const PASSWORD = 'fuzz-secret-pw-4711';
const SMALL = { packSize: 1024 * 1024, chunker: { min: 4096, avg: 16384, max: 65536 } };

type ObjType = 'config' | 'keys' | 'data' | 'index' | 'snapshots';
type Kind = MutationKind | 'swap' | 'rehash';

interface Template {
  name: string;
  dir: string;
  encrypted: boolean;
  /** snapshot id → expected content */
  snapshots: Map<string, Map<string, string>>;
  objects: Record<ObjType, string[]>;
}

function objectFile(repo: string, type: ObjType, name: string): string {
  if (type === 'config') return path.join(repo, 'config');
  if (type === 'data') return path.join(repo, 'data', name.slice(0, 2), name);
  return path.join(repo, type, name);
}

async function listObjects(repo: string): Promise<Record<ObjType, string[]>> {
  const names = async (d: string): Promise<string[]> => (await fsp.readdir(d)).sort();
  const data: string[] = [];
  for (const sub of await names(path.join(repo, 'data'))) data.push(...(await names(path.join(repo, 'data', sub))));
  // by size, then name: names are hashes of encrypted bytes (new every run), sizes mostly repeat, so a seed replays
  const bySize = async (type: ObjType, list: string[]): Promise<string[]> => {
    const sized = await Promise.all(list.map(async (n) => ({ n, size: (await fsp.stat(objectFile(repo, type, n))).size })));
    return sized.sort((a, b) => a.size - b.size || (a.n < b.n ? -1 : 1)).map((x) => x.n);
  };
  return {
    config: ['config'],
    keys: await bySize('keys', await names(path.join(repo, 'keys'))),
    data: await bySize('data', data),
    index: await bySize('index', await names(path.join(repo, 'index'))),
    snapshots: await bySize('snapshots', await names(path.join(repo, 'snapshots'))),
  };
}

/** A store-like tree: small code files, a mid-size image, a text file; version 1 changes a few. */
async function writeSource(root: string, v: number, rnd: Prng): Promise<void> {
  for (let i = 0; i < 12; i++) {
    const file = path.join(root, 'catalog', `c${i}.php`);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    if (v === 0 || i % 5 === v) await fsp.writeFile(file, `<?php // ${v} ${i}\n` + rnd.bytes(1500 + i * 300).toString('base64'));
  }
  await fsp.mkdir(path.join(root, 'image'), { recursive: true });
  await fsp.writeFile(path.join(root, 'image', v === 0 ? 'p.jpg' : 'q.jpg'), rnd.bytes(90_000 + v * 7000));
  await fsp.writeFile(path.join(root, 'notes.txt'), `notes ${v}\n`.repeat(3000));
  const when = new Date(Date.parse('2024-06-01T00:00:00Z') + v * 3_600_000);
  for (const rel of ['catalog', 'image', '.']) {
    const dir = path.join(root, rel);
    for (const f of await fsp.readdir(dir)) await fsp.utimes(path.join(dir, f), when, when);
  }
  await fsp.utimes(root, when, when);
}

/** Makes a repository with two snapshots and a cheap key (fast unlocks: the fuzz opens it hundreds of times). */
async function makeTemplate(base: string, name: string, encrypted: boolean, rnd: Prng, hasher: Blake3): Promise<Template> {
  const dir = path.join(base, name);
  const backend = new LocalBackend(dir);
  const repo = await Repository.init(backend, { password: encrypted ? PASSWORD : undefined, cacheDir: path.join(base, `cache-${name}`), configOverrides: SMALL });
  const snapshots = new Map<string, Map<string, string>>();
  try {
    if (encrypted) {
      const bytes = encodeKeyFile(await createKeyFile(repo.master, PASSWORD, { N: 1024, r: 8, p: 1 }));
      await backend.save('keys', hasher.plain(bytes).toString('hex'), bytes);
      await repo.removeKey(repo.keyName);
    }
    const src = path.join(base, `src-${name}`);
    for (let v = 0; v < 2; v++) {
      await writeSource(src, v, rnd);
      const r = await backup(repo, { paths: [src], kind: 'incremental', tags: [], excludes: [], time: new Date(Date.parse('2025-01-01T00:00:00Z') + v * 86_400_000) });
      snapshots.set(r.id, await hashTree(src));
    }
  } finally {
    await repo.close();
  }
  return { name, dir, encrypted, snapshots, objects: await listObjects(dir) };
}

interface Mutation {
  template: Template;
  type: ObjType;
  name: string;
  kind: Kind;
  /** names the error may use for the damaged object (the swap partner, the renamed file) */
  names: string[];
  what: string;
  /** the damage is always detectable (not a consistent forgery of an unencrypted repository, not the config or key) */
  detectable: boolean;
}

const TYPE_WEIGHTS: [ObjType, number][] = [['data', 34], ['index', 20], ['snapshots', 20], ['keys', 12], ['config', 14]];

function pickType(rnd: Prng): ObjType {
  let x = rnd.int(100);
  for (const [t, w] of TYPE_WEIGHTS) if ((x -= w) < 0) return t;
  return 'data';
}

/**
 * Applies a random mutation to `work`, a copy of the template (reading the template's bytes);
 * with `work` undefined only draws it, so a replay from a later mutation needs no copies.
 */
async function applyMutation(work: string | undefined, t: Template, rnd: Prng, hasher: Blake3): Promise<Mutation> {
  const type = pickType(rnd);
  const name = rnd.pick(t.objects[type]);
  const data = await fsp.readFile(objectFile(t.dir, type, name));
  const dry = work === undefined;
  const file = objectFile(work ?? t.dir, type, name);
  const kinds: Kind[] = [...MUTATION_KINDS];
  if (t.objects[type].length > 1) kinds.push('swap', 'swap');
  if (!t.encrypted && type !== 'config' && type !== 'keys') kinds.push('rehash', 'rehash', 'rehash');
  const kind = rnd.pick(kinds);
  if (kind === 'swap') {
    const other = rnd.pick(t.objects[type].filter((n) => n !== name));
    const otherData = await fsp.readFile(objectFile(t.dir, type, other));
    if (!dry) {
      await fsp.writeFile(file, otherData);
      await fsp.writeFile(objectFile(work, type, other), data);
    }
    return { template: t, type, name, kind, names: [name, other], what: `${type}/${name.slice(0, 12)} swapped with ${other.slice(0, 12)}`, detectable: type !== 'keys' };
  }
  if (kind === 'rehash') {
    const m = mutate(data, rnd.pick(MUTATION_KINDS), rnd);
    const renamed = hasher.plain(m.bytes).toString('hex');
    if (!dry) {
      await fsp.rm(file);
      await fsp.mkdir(path.dirname(objectFile(work, type, renamed)), { recursive: true });
      await fsp.writeFile(objectFile(work, type, renamed), m.bytes);
    }
    // a changed snapshot time, say, is a valid snapshot: only the data it points to is verified
    return { template: t, type, name, kind, names: [name, renamed], what: `${type}/${name.slice(0, 12)} ${m.what}, renamed to its new hash ${renamed.slice(0, 12)}`, detectable: false };
  }
  const m = mutate(data, kind, rnd);
  if (!dry) await fsp.writeFile(file, m.bytes);
  return { template: t, type, name, kind, names: [name], what: `${type}/${type === 'config' ? '' : name.slice(0, 12)} ${m.what}`, detectable: type !== 'config' && type !== 'keys' };
}

/** What an error about the mutated object must mention. */
function namePattern(m: Mutation): RegExp {
  if (m.type === 'config') return /config/i;
  const names = m.names.map((n) => n.slice(0, 8)).join('|');
  // a consistent forgery (unencrypted, renamed to its new hash) is found only where a blob it points to fails
  return new RegExp(m.kind === 'rehash' ? `${names}|blob [0-9a-f]{12}|pack [0-9a-f]{8}` : names);
}

test('a zstd frame that fails mid-stream does not break the decompression of intact blobs after it', () => {
  const plain = Buffer.from(JSON.stringify({ rows: 'x'.repeat(5000), n: [1, 2, 3] }));
  const good = encodeBlobPlain(plain, 3);
  assert.equal(good[0], 1, 'compressed');
  for (let at = 1; at < 12; at++) {
    const bad = Buffer.from(good);
    bad.fill(0, at, at + 8); // no content size: zstd streams, and fails part way
    assert.throws(() => decodeBlobPlain(bad, 'damaged blob'), (e: unknown) => e instanceof OcvaultError && e.code === 'CorruptObject' && /damaged blob/.test(e.message));
    assert.deepEqual(decodeBlobPlain(good, 'intact blob'), plain, `after a damaged frame (zeros at ${at}), an intact one decodes`);
  }
});

describe(`fuzz: ${MUTATIONS} mutated repository objects`, () => {
  let base: string;
  let workspace: Tmpfs | undefined;
  let hasher: Blake3;
  let templates: Template[];
  let rnd: Prng;
  const tally = new Map<string, number>();
  const count = (k: string): void => void tally.set(k, (tally.get(k) ?? 0) + 1);

  before(async () => {
    rnd = new Prng(fuzzSeed());
    base = await makeTempDir('ocvault-fuzz-');
    // hundreds of copies, opens and locks: on a tmpfs (when root) no fsync waits for a busy disk
    if (!tmpfsUnavailable()) workspace = await mountTmpfs(base, 512 * 1024 * 1024);
    hasher = await blake3();
    templates = [await makeTemplate(base, 'encrypted', true, rnd, hasher), await makeTemplate(base, 'plain', false, rnd, hasher)];
  });
  after(async () => {
    console.log(`# fuzz outcomes: ${[...tally].sort().map(([k, n]) => `${k}=${n}`).join(', ')}`);
    await workspace?.unmount();
    if (base) await removeTree(base);
  });

  async function fresh(t: Template, label: string): Promise<{ work: string; cache: string }> {
    const work = path.join(base, `work-${label}`);
    const cache = path.join(base, `cache-work-${label}`);
    await fsp.rm(work, { recursive: true, force: true });
    await fsp.rm(cache, { recursive: true, force: true });
    await fsp.cp(t.dir, work, { recursive: true });
    return { work, cache };
  }

  const password = (t: Template): string | undefined => (t.encrypted ? PASSWORD : undefined);

  /** Runs `fn`; a failure must be a clean OcvaultError naming the object. Returns whether it succeeded. */
  async function attempt(label: string, m: Mutation, fn: () => Promise<void>, names = namePattern(m)): Promise<boolean> {
    try {
      await within(60_000, label, fn());
      return true;
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assertCleanError(e, PASSWORD, names, label);
      return false;
    }
  }

  test('library: open, list, restore, check --read-data and repair index on every mutation', { timeout: 60 * 60_000 }, async () => {
    for (let i = 0; i < MUTATIONS; i++) {
      const t = templates[i % 2]!;
      if (i < FROM) {
        await applyMutation(undefined, t, rnd, hasher);
        continue;
      }
      const { work, cache } = await fresh(t, 'lib');
      const m = await applyMutation(work, t, rnd, hasher);
      const label = `#${i} ${t.name}: ${m.what}`;
      const opts = { password: password(t), cacheDir: cache };

      // open and list: either the snapshots are exactly the template's, or a clean error
      let listed: string[] | undefined;
      const opened = await attempt(`${label}: open`, m, async () => {
        const repo = await Repository.open(new LocalBackend(work), opts);
        try {
          listed = repo.snapshots().map((s) => s.id).sort();
        } finally {
          await repo.close();
        }
      });
      count(`open-${opened ? 'ok' : 'error'}`);
      if (opened && m.detectable && m.type === 'snapshots') assert.fail(`${label}: a damaged snapshot object was listed without complaint`);
      if (listed && m.kind !== 'rehash') assert.deepEqual(listed, [...t.snapshots.keys()].sort(), `${label}: the snapshot list`);

      // restore every snapshot: right bytes or a clean error, never wrong data
      if (opened) {
        const repo = await Repository.open(new LocalBackend(work), opts);
        try {
          for (const [id, files] of t.snapshots) {
            if (!listed?.includes(id)) continue;
            const target = path.join(base, `target-${i}-${id.slice(0, 6)}`);
            const ok = await attempt(`${label}: restore ${id.slice(0, 8)}`, m, async () => {
              await restore(repo, { snapshot: id, target, includes: [] });
              assert.deepEqual(await hashTree(target), files, `${label}: restore ${id.slice(0, 8)} succeeded, so it must restore the right bytes`);
            });
            count(`restore-${ok ? 'ok' : 'error'}`);
            await fsp.rm(target, { recursive: true, force: true });
          }
        } finally {
          await repo.close();
        }
      }

      // check --read-data (opened tolerantly, like the CLI): never a crash; damage is reported, naming the object
      const checked = await attempt(`${label}: check`, m, async () => {
        const { repo, backend } = await openTolerant(new LocalBackend(work), { ...opts, cacheDir: `${cache}-check` });
        try {
          const report = await check(repo, { readData: { all: true }, backend });
          if (m.detectable) {
            assert.equal(report.ok, false, `${label}: check --read-data must find the damage`);
            const text = report.errors.map((e) => `${e.object} ${e.message}`).join('\n');
            assert.match(text, namePattern(m), `${label}: check names the damaged object:\n${text}`);
          }
        } finally {
          await repo.close();
        }
      });
      count(`check-${checked ? 'ran' : 'error'}`);

      // repair index, then every snapshot restores right or fails cleanly (one mutation in three)
      if (i % 3 === 0) {
        const repaired = await attempt(`${label}: repair index`, m, async () => {
          const { repo, backend } = await openTolerant(new LocalBackend(work), { ...opts, cacheDir: `${cache}-repair` });
          try {
            await repairIndex(repo, undefined, backend);
          } finally {
            await repo.close();
          }
        });
        count(`repair-${repaired ? 'ok' : 'error'}`);
        if (repaired) {
          await attempt(`${label}: restore after repair`, m, async () => {
            const repo = await Repository.open(new LocalBackend(work), { ...opts, cacheDir: `${cache}-after` });
            try {
              for (const [id, files] of t.snapshots) {
                if (!repo.snapshots().some((s) => s.id === id)) continue;
                const target = path.join(base, `target-r-${i}-${id.slice(0, 6)}`);
                try {
                  await restore(repo, { snapshot: id, target, includes: [] });
                  assert.deepEqual(await hashTree(target), files, `${label}: after repair index, restore ${id.slice(0, 8)} restores the right bytes`);
                } finally {
                  await fsp.rm(target, { recursive: true, force: true });
                }
              }
            } finally {
              await repo.close();
            }
            // a pack the repair could not re-index leaves its blobs unindexed: the error names the blob
          }, new RegExp(`${namePattern(m).source}|blob [0-9a-f]{12}`));
        }
      }
      for (const c of [`${cache}-check`, `${cache}-repair`, `${cache}-after`]) await fsp.rm(c, { recursive: true, force: true });
      count(`${m.type}/${m.kind}`);
    }
  });

  test(`CLI sample (${CLI_SAMPLE} mutations): exit 0 or 1, one line naming the object, no stack, no password, no hang`, { timeout: 60 * 60_000 }, async () => {
    const sh = await TestRepo.create({ init: false, password: PASSWORD });
    try {
      for (let i = 0; i < CLI_SAMPLE; i++) {
        const t = templates[i % 2]!;
        const { work, cache } = await fresh(t, 'cli');
        const m = await applyMutation(work, t, rnd, hasher);
        const label = `cli #${i} ${t.name}: ${m.what}`;
        const env = { OCVAULT_REPOSITORY: work, OCVAULT_CACHE_DIR: cache, OCVAULT_PASSWORD: t.encrypted ? PASSWORD : undefined, HOME: sh.path('xdg'), XDG_CACHE_HOME: sh.path('xdg') };
        const cli = (args: string[]): Promise<RunResult> => runOcvault(args, { env, timeoutMs: 60_000 });
        const judge = (r: RunResult, allowed: number[]): void => {
          try {
            judgeRun(r, allowed);
          } catch (e) {
            if (e instanceof assert.AssertionError) e.message = `${label}: ${e.message}`;
            throw e;
          }
        };
        const judgeRun = (r: RunResult, allowed: number[]): void => {
          assert.ok(!r.timedOut, `${label}: hung\n${describeRun(r)}`);
          assert.ok(r.code !== null && allowed.includes(r.code), `${label}: exit code\n${describeRun(r)}`);
          // check and repair report damage on stdout and exit 1; any other failure is one line on stderr
          const report = (r.argv.includes('check') || r.argv.includes('repair')) && r.code === 1 && r.stderr.split('\n').every((l) => !l.startsWith('ocvault: '));
          if (r.code !== 0 && !report) assertCleanCliFailure(r, PASSWORD, r.argv.includes('check') || r.argv.includes('repair') ? undefined : namePattern(m));
          assert.ok(!/^\s+at .+:\d+:\d+\)?$/m.test(r.stderr), `${label}: no stack trace\n${describeRun(r)}`);
          assert.ok(!(r.stdout + r.stderr).includes(PASSWORD), `${label}: the password is not printed`);
        };
        const list = await cli(['snapshots', '--json']);
        judge(list, [0, 1]);
        count(`cli-snapshots-${list.code}`);
        for (const [id, files] of [...t.snapshots].slice(i % 2)) {
          const target = sh.path(`t-${i}-${id.slice(0, 6)}`);
          const r = await cli(['restore', id, '--target', target]);
          judge(r, [0, 1]);
          count(`cli-restore-${r.code}`);
          if (r.code === 0) assert.deepEqual(await hashTree(target), files, `${label}: restore exit 0 restores the right bytes\n${describeRun(r)}`);
          await fsp.rm(target, { recursive: true, force: true });
        }
        const c = await cli(['check', '--read-data']);
        judge(c, [0, 1]);
        count(`cli-check-${c.code}`);
        if (m.detectable) {
          assert.equal(c.code, 1, `${label}: check --read-data exits 1 on damage\n${describeRun(c)}`);
          assert.match(c.stdout + c.stderr, namePattern(m), `${label}: check names the object\n${describeRun(c)}`);
        }
        if (i % 2 === 0) {
          const r = await cli(['repair', 'index']);
          judge(r, [0, 1]);
          count(`cli-repair-${r.code}`);
        }
      }
    } finally {
      await sh.cleanup();
    }
  });
});
