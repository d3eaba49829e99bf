/**
 * Fixture trees for the end-to-end tests: builders that make every kind of entry a backup must
 * carry (nested and empty dirs, empty/small/large files, unicode and hostile names, symlinks of
 * every flavour, modes, past sub-second mtimes), and `compareTrees` that asserts two trees are
 * the same byte for byte and in metadata.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp, type BigIntStats } from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';

export const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// small file-system helpers

/** Write `size` random bytes to `file`, generated in 8 MiB pieces (fast, bounded memory). */
export async function writeRandomFile(file: string, size: number): Promise<void> {
  const fh = await fsp.open(file, 'w');
  try {
    let left = size;
    while (left > 0) {
      const n = Math.min(left, 8 * MiB);
      const buf = randomBytes(n);
      let off = 0;
      while (off < n) off += (await fh.write(buf, off, n - off)).bytesWritten;
      left -= n;
    }
  } finally {
    await fh.close();
  }
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** rel path → sha256 of every regular file under `root`. */
export async function hashTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await listTree(root)) {
    if (e.type === 'file') out.set(e.path, await sha256File(path.join(root, e.path)));
  }
  return out;
}

/** Seconds since the epoch for an ISO time (what fs.utimes takes, fractional allowed). */
export function isoSeconds(iso: string, extraMicros = 0): number {
  return Date.parse(iso) / 1000 + extraMicros / 1e6;
}

/** rm -rf that also works as non-root when the tree holds read-only (0555/0000) directories. */
export async function removeTree(root: string): Promise<void> {
  const makeWritable = async (d: string): Promise<void> => {
    let st;
    try {
      st = await fsp.lstat(d);
    } catch {
      return;
    }
    if (!st.isDirectory()) return;
    await fsp.chmod(d, 0o700).catch(() => undefined);
    let names: string[] = [];
    try {
      names = await fsp.readdir(d);
    } catch {
      return;
    }
    for (const n of names) await makeWritable(path.join(d, n));
  };
  try {
    await fsp.rm(root, { recursive: true, force: true });
  } catch {
    await makeWritable(root);
    await fsp.rm(root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// listing and comparison

export interface TreeEntry {
  /** relative to the root, '/'-separated */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  /** st_mode & 0o7777 */
  mode: number;
  mtimeNs: bigint;
  /** symlink target */
  target?: string;
}

/** Every entry under `root` (not the root itself), lstat'ed (symlinks are not followed). Sorted by path. */
export async function listTree(root: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const names = (await fsp.readdir(dir)).sort();
    for (const name of names) {
      const abs = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = (await fsp.lstat(abs, { bigint: true })) as BigIntStats;
      const e: TreeEntry = {
        path: r,
        type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other',
        size: Number(st.size),
        mode: Number(st.mode & 0o7777n),
        mtimeNs: st.mtimeNs,
      };
      if (e.type === 'symlink') e.target = await fsp.readlink(abs);
      out.push(e);
      if (e.type === 'dir') await walk(abs, r);
    }
  };
  await walk(root, '');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export interface CompareOptions {
  /** skip entries whose relative path this returns true for (and their subtrees) */
  ignore?: (rel: string) => boolean;
  /** largest accepted mtime difference in ns (default: under 1 ms) */
  mtimeToleranceNs?: bigint;
  /** compare symlink mtimes too (default false: not every platform can set them) */
  symlinkMtime?: boolean;
  /** compare modes (default true) */
  modes?: boolean;
  /** compare mtimes (default true) */
  mtimes?: boolean;
}

const fmtMode = (m: number): string => '0' + m.toString(8).padStart(4, '0');

/**
 * Differences between the trees under `expected` and `actual` (roots themselves not compared):
 * same set of names, type, content bytes (sha256), size, mode & 0o7777, mtime (< 1 ms apart),
 * symlink targets. Returns a list of human-readable problems; empty when equal.
 */
export async function diffTrees(expected: string, actual: string, opts: CompareOptions = {}): Promise<string[]> {
  const tol = opts.mtimeToleranceNs ?? 999_999n;
  const keep = (e: TreeEntry): boolean => !opts.ignore?.(e.path);
  const a = (await listTree(expected)).filter(keep);
  const b = (await listTree(actual)).filter(keep);
  const bm = new Map(b.map((e) => [e.path, e]));
  const am = new Map(a.map((e) => [e.path, e]));
  const problems: string[] = [];
  for (const e of a) if (!bm.has(e.path)) problems.push(`missing: ${JSON.stringify(e.path)} (${e.type})`);
  for (const e of b) if (!am.has(e.path)) problems.push(`unexpected: ${JSON.stringify(e.path)} (${e.type})`);
  for (const ea of a) {
    const eb = bm.get(ea.path);
    if (!eb) continue;
    const p = JSON.stringify(ea.path);
    if (ea.type !== eb.type) {
      problems.push(`${p}: type ${ea.type} expected, got ${eb.type}`);
      continue;
    }
    if (ea.type === 'symlink') {
      if (ea.target !== eb.target) problems.push(`${p}: symlink target ${JSON.stringify(ea.target)} expected, got ${JSON.stringify(eb.target)}`);
    } else if (opts.modes !== false && ea.mode !== eb.mode) {
      problems.push(`${p}: mode ${fmtMode(ea.mode)} expected, got ${fmtMode(eb.mode)}`);
    }
    if (ea.type === 'file') {
      if (ea.size !== eb.size) problems.push(`${p}: size ${ea.size} expected, got ${eb.size}`);
      else {
        const [ha, hb] = await Promise.all([sha256File(path.join(expected, ea.path)), sha256File(path.join(actual, ea.path))]);
        if (ha !== hb) problems.push(`${p}: content differs (sha256 ${ha.slice(0, 12)} expected, got ${hb.slice(0, 12)})`);
      }
    }
    if (opts.mtimes !== false && (ea.type !== 'symlink' || opts.symlinkMtime)) {
      const d = ea.mtimeNs > eb.mtimeNs ? ea.mtimeNs - eb.mtimeNs : eb.mtimeNs - ea.mtimeNs;
      if (d > tol) {
        const iso = (ns: bigint): string => `${new Date(Number(ns / 1_000_000n)).toISOString()} (${ns}ns)`;
        problems.push(`${p}: mtime ${iso(ea.mtimeNs)} expected, got ${iso(eb.mtimeNs)}`);
      }
    }
  }
  return problems;
}

/** Asserts `actual` holds exactly the tree under `expected` (see diffTrees). */
export async function compareTrees(expected: string, actual: string, opts: CompareOptions = {}): Promise<void> {
  const problems = await diffTrees(expected, actual, opts);
  const shown = problems.slice(0, 40).join('\n  ');
  assert.equal(problems.length, 0, `restored tree ${actual} differs from ${expected} in ${problems.length} way(s):\n  ${shown}${problems.length > 40 ? '\n  …' : ''}`);
}

// ---------------------------------------------------------------------------------------------
// the fixture tree

export interface FixtureTree {
  root: string;
  /** relative paths of a few notable entries */
  names: {
    emptyFile: string;
    random: string;
    longName: string;
    name255: string;
    newline: string;
    glob: string;
    dash: string;
    nfc: string;
    nfd: string;
    emoji: string;
    cjk: string;
    danglingLink: string;
    dirLink: string;
    absLink: string;
    relLink: string;
    emptyDir: string;
    roDir: string;
    setgidDir: string;
  };
  /** total bytes of regular-file content */
  bytes: number;
  files: number;
  dirs: number;
}

export interface FixtureOptions {
  /** size of the random binary file (default 3 MiB + 777 bytes: crosses chunk boundaries) */
  randomSize?: number;
  /** include a setgid directory (default true) */
  setgid?: boolean;
}

const T_FILE = '2019-03-14T15:09:26.535Z';
const T_DIR = '2015-06-30T23:59:59.250Z';

/**
 * Build the every-case tree under `root` (created). Modes and mtimes are set last, bottom-up, so
 * directory mtimes are the chosen past values too.
 */
export async function buildFixtureTree(root: string, opts: FixtureOptions = {}): Promise<FixtureTree> {
  const randomSize = opts.randomSize ?? 3 * MiB + 777;
  const names: FixtureTree['names'] = {
    emptyFile: 'zero.bin',
    random: 'bin/random.bin',
    longName: `odd/${'L'.repeat(196)}.txt`,
    name255: `odd/${'n'.repeat(255)}`,
    newline: 'odd/new\nline.txt',
    glob: 'odd/*?[]{}.txt',
    dash: 'odd/-leading-dash',
    nfc: 'unicode/caf\u00e9.txt',
    nfd: 'unicode/cafe\u0301.txt',
    emoji: 'unicode/😀 party 🎉.txt',
    cjk: 'unicode/中文文件名-日本語-한국어.txt',
    danglingLink: 'links/dangling',
    dirLink: 'links/to-dir',
    absLink: 'links/absolute',
    relLink: 'links/relative',
    emptyDir: 'empty-dir',
    roDir: 'modes/ro-dir',
    setgidDir: 'modes/setgid-dir',
  };
  const files: Array<[string, string | Buffer]> = [
    [names.emptyFile, ''],
    ['one-byte', 'x'],
    ['hello.txt', 'hello, world\n'],
    ['readme.md', '# fixture\n\nSome *markdown* text.\n'],
    ['a/b/c/d/e/f/g/deep.txt', 'deep down\n'],
    ['a/b/mid.txt', 'middle\n'],
    ['a/top.txt', 'top of a\n'],
    ['text/big.txt', Array.from({ length: 40_000 }, (_, i) => `line ${i}: the quick brown fox jumps over the lazy dog\n`).join('')],
    ['text/crlf.txt', 'windows\r\nline endings\r\n'],
    ['text/no-newline-at-end', 'abc'],
    [names.longName, 'a 200-character name\n'],
    [names.name255, 'a 255-byte name (NAME_MAX)\n'],
    [names.newline, 'a newline in my name\n'],
    [names.glob, 'glob characters in my name\n'],
    [names.dash, 'leading dash\n'],
    ['odd/with space.txt', 'space\n'],
    ['odd/ trailing and leading space ', 'spaces around\n'],
    ['odd/.hidden', 'dot file\n'],
    ['odd/back\\slash', 'backslash\n'],
    ["odd/quote's \"double\"", 'quotes\n'],
    ['odd/tab\tname', 'tab\n'],
    ['odd/semi;colon&amp|pipe$dollar', 'shell characters\n'],
    [names.nfc, 'NFC é\n'],
    [names.nfd, 'NFD e + combining acute\n'],
    [names.emoji, 'emoji 😀\n'],
    [names.cjk, '中文内容\n'],
    ['unicode/Ωmega/ünïcödé-dir-file.txt', 'inside a unicode dir\n'],
    ['modes/m0600', 'private\n'],
    ['modes/m0755.sh', '#!/bin/sh\necho hi\n'],
    ['modes/m0444', 'read only\n'],
    ['modes/m0640', 'group readable\n'],
    [`${names.roDir}/inside.txt`, 'inside a 0555 directory\n'],
    [`${names.setgidDir}/inside.txt`, 'inside a setgid directory\n'],
  ];
  await fsp.mkdir(root, { recursive: true });
  let bytes = 0;
  for (const [rel, content] of files) {
    const abs = path.join(root, rel);
    await fsp.mkdir(path.dirname(abs), { recursive: true });
    await fsp.writeFile(abs, content);
    bytes += Buffer.byteLength(content);
  }
  await fsp.mkdir(path.join(root, 'bin'), { recursive: true });
  await writeRandomFile(path.join(root, names.random), randomSize);
  bytes += randomSize;
  await writeRandomFile(path.join(root, 'bin/small-random.bin'), 4097);
  bytes += 4097;
  // empty directories, one of them nested
  await fsp.mkdir(path.join(root, names.emptyDir), { recursive: true });
  await fsp.mkdir(path.join(root, 'empty-nested/x/y'), { recursive: true });
  // symlinks (never followed)
  await fsp.mkdir(path.join(root, 'links'), { recursive: true });
  await fsp.symlink('../hello.txt', path.join(root, names.relLink));
  await fsp.symlink(path.join(root, 'hello.txt'), path.join(root, names.absLink));
  await fsp.symlink('does/not/exist', path.join(root, names.danglingLink));
  await fsp.symlink('../a', path.join(root, names.dirLink));
  await fsp.symlink('../unicode/caf\u00e9.txt', path.join(root, 'links/to-unicode'));
  await fsp.symlink('loop', path.join(root, 'links/loop')); // points at itself

  // modes
  const modes: Array<[string, number]> = [
    ['modes/m0600', 0o600],
    ['modes/m0755.sh', 0o755],
    ['modes/m0444', 0o444],
    ['modes/m0640', 0o640],
    [`${names.roDir}/inside.txt`, 0o644],
    [names.roDir, 0o555],
    ['a/b', 0o700],
  ];
  if (opts.setgid !== false) modes.push([names.setgidDir, 0o2755]);
  else modes.push([names.setgidDir, 0o755]);
  for (const [rel, m] of modes) await fsp.chmod(path.join(root, rel), m);

  // mtimes: every entry a distinct past value with a sub-second part, deepest first so that
  // setting a file's time never disturbs its directory's afterwards
  const all = await listTree(root);
  const byDepth = [...all].sort((x, y) => y.path.split('/').length - x.path.split('/').length);
  let i = 0;
  for (const e of byDepth) {
    const abs = path.join(root, e.path);
    const base = e.type === 'dir' ? T_DIR : T_FILE;
    // distinct seconds, and a varying sub-second part (ms and µs)
    const t = isoSeconds(base) - i * 86_400 - (i % 7) * 0.001 - (i % 5) * 0.000_123;
    i++;
    if (e.type === 'symlink') await fsp.lutimes(abs, t, t);
    else await fsp.utimes(abs, t, t);
  }
  const counts = await listTree(root);
  return {
    root,
    names,
    bytes,
    files: counts.filter((e) => e.type === 'file').length,
    dirs: counts.filter((e) => e.type === 'dir').length,
  };
}

/** A tiny tree from a {relative path: content} map (dirs created as needed; a key ending in '/' is an empty dir). */
export async function writeTree(root: string, spec: Record<string, string | Buffer>): Promise<void> {
  await fsp.mkdir(root, { recursive: true });
  for (const [rel, content] of Object.entries(spec)) {
    const abs = path.join(root, rel);
    if (rel.endsWith('/')) {
      await fsp.mkdir(abs, { recursive: true });
      continue;
    }
    await fsp.mkdir(path.dirname(abs), { recursive: true });
    await fsp.writeFile(abs, content);
  }
}

/** Parse an `ls --json` mode (a number, or an octal string like "0644"/"-rw-r--r--" is not accepted). */
export function lsMode(m: number | string): number {
  if (typeof m === 'number') return m & 0o7777;
  if (/^0?o?[0-7]{3,5}$/.test(m)) return parseInt(m.replace(/^0?o?/, ''), 8) & 0o7777;
  throw new Error(`unrecognised mode ${JSON.stringify(m)} in ls output`);
}

/** Parse an `ls --json` mtime (ISO string, or a number of milliseconds) into ms since the epoch. */
export function lsMtimeMs(t: number | string): number {
  if (typeof t === 'string') {
    const ms = Date.parse(t);
    if (Number.isNaN(ms)) throw new Error(`unrecognised mtime ${JSON.stringify(t)} in ls output`);
    return ms;
  }
  return t;
}
